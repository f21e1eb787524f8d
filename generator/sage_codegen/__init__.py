"""sage-codegen: builds the sage_accounting package from Sage's Swagger documents.

The pipeline, one module per step:

    spec_lock   pins the input documents by sha256 (``make spec``)
    loader      finds the API documents among the files by content, reads them (tolerating
                faults with one safe reading), upconverts, merges, validates
    overlays    applies maintainers' OpenAPI Overlay 1.0 fixes to the raw documents
    merge       merges module documents and the copies of a definition, by documented rules
    report      the warnings (file#pointer) and notes gathered on the way; --strict raises
    ir_build    turns the merged OpenAPI document into the IR (``ir``)
    render      renders the IR with the Jinja templates (the top-level ``templates/``) and formats with black
    cli         the ``sage-codegen`` command
"""
