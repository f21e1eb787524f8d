"""Agent policies the tests share: one reader of the sandbox's lead business's contacts."""

READER_POLICY = """
[businesses]
"biz-lead" = "Business One"

[agents.reader]
name = "Reader"
businesses = ["biz-lead"]
areas = { Contacts = "read" }
"""
