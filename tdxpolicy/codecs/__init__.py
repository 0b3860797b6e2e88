"""JSON codecs: one module per JSON contract, named after its schema in ``schemas/``.

=====================  ===============================  ==========================================
module                 schema                           API
=====================  ===============================  ==========================================
``codecs.verdict``     ``verdict.schema.json``          ``to_json``, ``check_json``, ``json_value``
``codecs.path``        ``path.schema.json``             ``to_json``
``codecs.select``      ``select.schema.json``           ``select_json``, ``selection_to_json``
``codecs.list``        ``list.schema.json``             ``list_json``, ``release_list_to_json``
``codecs.hostfacts``   ``host-facts.schema.json``       ``to_json``, ``from_json`` (+ validator)
=====================  ===============================  ==========================================

Renderers (:mod:`tdxpolicy.output`), records (``host/upload.py``) and readers (``--facts``,
``fleet``) all use these, so each contract is built and read in one place. Codecs return and
take plain JSON values; serialising them is :func:`tdxpolicy.output.dumps`.
"""
