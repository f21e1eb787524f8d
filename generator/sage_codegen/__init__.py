"""sage-codegen: builds the sage_accounting package from Sage's Swagger documents.

The pipeline, one module per step:

    spec_lock   pins the input documents by sha256 (``make spec``)
    loader      reads Swagger 2.0 / OpenAPI 3.0 files, upconverts, merges, validates
    ir_build    turns the merged OpenAPI document into the IR (``ir``)
    render      renders the IR with the Jinja templates in ``templates/`` and formats with black
    cli         the ``sage-codegen`` command
"""
