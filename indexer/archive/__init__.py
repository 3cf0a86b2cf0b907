"""A knowledge base as one portable archive: back up, restore, and move it between the local store and
Milvus (`rag kb export` / `rag kb import`, GET /v1/kbs/{kb}/export, POST /v1/kbs/import).

The archive is a zip file of three members and optional ones (indexer.archive.format):

    manifest.json     format and version, KB name, embedding model, dimension, context window, the
                      exporting configuration's chunking, counts, the KB's own settings (refusal
                      threshold and its calibration, ...), each other member's size and SHA-256, and
                      (only when there are some) the documents left out: rewritten throughout the export
    documents.jsonl   one line per document: its record and its chunks (text, title, page, page_breaks, ordinal)
    vectors.f32       every chunk's stored vector, float32 little-endian, in the order of the chunks above
    originals/<SHA-256><ext>, ocr-cache.sqlite   unless left out: the KB's kept uploads and OCR result cache
                      (indexer.archive.kept_files); service_state.json only when asked (api.archive_state)

Import writes the vectors as they are (no re-embedding) and recomputes what derives from the text
(BM25 tokens, vector-cache keys), so it needs the archive's embedding model only to answer questions
later; it checks that model is installed and gives the archive's vectors first. The archive is
untrusted (indexer.archive.reader): bounded sizes, only the members the format names, checksums verified
before anything is written. Import writes into a hidden copy (a `.NAME.importing` folder, or Milvus collections
of role 'import') that takes the KB's name only once complete, so a failed import leaves no half KB
and a re-run of an interrupted one carries on where it stopped (indexer.archive.import_).
"""
