"""Indexer settings: where KBs live, which embedding model, how to chunk, which dense index.

Precedence (lowest to highest): defaults < config file < environment (RAG_*) < CLI flags.
The config file is TOML: `--config FILE`, else `$RAG_CONFIG`, else `<home>/config.toml` when present.
"""
from __future__ import annotations

import difflib
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from indexer.parse.ocr_options import OcrOptions
from indexer.url_secret import check_postgres_url, hide_password

_OCR = OcrOptions()  # the ocr_* settings' defaults


class ChunkSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAG_CHUNK_", extra="ignore")
    max_tokens: int = Field(200, ge=4, description="target chunk size in tokens (words; a CJK char counts 1)")
    overlap_tokens: int = Field(30, ge=0, description="tokens repeated from the end of the previous chunk")
    table_max_tokens: int = Field(400, ge=16, description="tables up to this size stay whole")


class IndexerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore", env_nested_delimiter="__")

    home: Path = Field(Path(".rag"), description="folder holding all knowledge bases")
    embed_model: str = Field("e5+minilm", description="'e5+minilm' (both models fused: ranks best; MiniLM "
                             "sits out Chinese questions), 'e5' (multilingual-e5-small alone: Chinese + English, "
                             "indexes faster), 'minilm' (English) or a sentence-transformers folder")
    embed_engine: Literal["auto", "ct2", "torch"] = Field(
        "auto", description="how the BERT encoders run: 'auto' (CTranslate2 int8 on CPU, ~2x the speed of torch, "
        "vectors within cosine 0.99; torch on a GPU), 'ct2' or 'torch' (docs/encoder-engines.md); "
        "env RAG_EMBED_ENGINE")
    context_window: int = Field(1, ge=0, le=8, description="a new KB stores each chunk's vector mixed with that of "
                                "its window (the chunk and this many neighbours on each side; 0 = plain chunk "
                                "vectors); fixed per KB at creation")
    embed_batch_size: int = Field(64, ge=1)
    # 64: small enough that the encoder starts while the next files are still parsed (256 left the
    # encoder idle for the first half of a job and the parsers for the last), large enough for the
    # torch engine's batches (embed_batch_size)
    ingest_batch_chunks: int = Field(64, ge=1, description="chunks of several files embedded together, then "
                                                           "written (one transaction per file)")
    store: Literal["local", "milvus"] = Field(
        "local", description="store backend: 'local' (embedded SQLite + FAISS + BM25 files under home) or 'milvus' "
        "(needs store_uri, which selects Milvus by itself)")
    store_uri: str | None = Field(None, description="Milvus instead of the local store: 'http://HOST:PORT' (a Milvus "
                                  "server or cluster) or a path ending in '.db' (Milvus Lite in this process); "
                                  "env RAG_STORE_URI")
    device: str = Field("auto", description="'auto' (GPU if present), 'cpu' or 'cuda'")
    dense_index: Literal["auto", "flat", "hnsw"] = Field(
        "auto", description="'auto' = exact search below hnsw_threshold chunks, HNSW above")
    hnsw_threshold: int = Field(50_000, ge=1)
    hnsw_m: int = 32
    hnsw_ef_search: int = 128
    max_file_mb: float = Field(50.0, gt=0, description="files larger than this are rejected")
    # Untrusted documents: bounds on what parsing one file may cost (indexer.parse.sandbox, .limits).
    parse_isolation: bool = Field(True, description="parse each file in a child process with the limits below")
    parse_workers: int = Field(2, ge=1, le=16, description="files parsed at once, each in its own sandboxed "
                               "process (~300 MB each); the encoder embeds the files parsed before them meanwhile")
    parse_memory_mb: float = Field(1024, ge=32, description="memory one file's parsing may add (RLIMIT_AS)")
    parse_cpu_s: int = Field(120, ge=1, description="CPU seconds to parse one file (RLIMIT_CPU)")
    parse_timeout_s: float = Field(120, gt=0, description="wall seconds to parse one file, then it is killed")
    parse_max_output_mb: float = Field(32, gt=0, description="most parsed text one file may produce")
    parse_zip_check: bool = Field(True, description="refuse docx/pptx/xlsx that are zip bombs (limits below)")
    parse_zip_member_mb: float = Field(100, gt=0, description="largest uncompressed size of one zip member")
    parse_zip_total_mb: float = Field(300, gt=0, description="largest uncompressed size of all zip members")
    parse_zip_ratio: float = Field(100, gt=1, description="highest compression ratio of a zip member over 1 MB")
    parse_max_pages: int = Field(2000, ge=1, description="most pages per PDF (repeats of one page count)")
    max_chunks_per_file: int = Field(5000, ge=1, description="files giving more chunks are rejected")
    # Scanned PDF pages and images, read by Tesseract: the defaults are OcrOptions' own (one place for them)
    ocr: bool | None = Field(_OCR.enabled, description="read scanned PDF pages and images (png, jpg, tiff, webp) with "
                             "Tesseract OCR; unset = when tesseract is installed (make setup)")
    ocr_languages: str = Field(_OCR.languages, pattern=r"^[A-Za-z0-9_]+(\+[A-Za-z0-9_]+)*$",
                               description="Tesseract languages, '+' between them: eng, chi_sim (Simplified "
                               "Chinese), chi_tra (Traditional); each one more makes OCR slower")
    ocr_dpi: int = Field(_OCR.dpi, ge=100, le=600, description="resolution scanned PDF pages are rendered at for OCR")
    ocr_max_pixels: int = Field(_OCR.max_pixels, ge=1_000_000, description="largest image (or rendered page) read by "
                                "OCR, in pixels; larger ones are refused (decompression bombs)")
    ocr_max_pages: int = Field(_OCR.max_pages, ge=1, description="most pages (scanned PDF pages, TIFF frames) OCR'd per file")
    ocr_page_timeout_s: float = Field(_OCR.page_timeout_s, gt=0, description="wall and CPU seconds tesseract may take for one page")
    ocr_timeout_s: float = Field(_OCR.timeout_s, gt=0, description="wall seconds all OCR of one file may take (added to "
                                 "parse_timeout_s for PDFs and images)")
    ocr_memory_mb: int = Field(_OCR.memory_mb, ge=128, description="address space of one tesseract run")
    ocr_psm: int = Field(_OCR.psm, ge=3, le=6, description="tesseract's page segmentation mode: 3 = automatic "
                         "layout, 4 = one column of lines of any size (a page where it leaves a line out is read "
                         "with 3 too), 5 = vertical text, 6 = one block of lines; docs/ocr.md has the measurements")
    # 512: a page's text is a few KB, so ~100,000 scanned pages; reading one again costs Tesseract 1-3 s
    ocr_cache_mb: int = Field(_OCR.cache_mb, ge=0, description="most MB of OCR results kept per KB (in its folder, "
                              "ocr-cache.sqlite) so that reading a scan again does not run Tesseract again for the "
                              "same page; past it the entries used longest ago go; 0 = no cache; env "
                              "RAG_OCR_CACHE_MB")
    # cluster mode: the OCR cache shared by every worker and replica (indexer.parse.ocr_cache_where); a password
    # may be in it, so it is never dumped
    ocr_cache_url: str = Field("", exclude=True, repr=False,
                               description="the state database (PostgreSQL URL) that holds the OCR cache, shared by "
                               "every process of a cluster; set from RAG_DATABASE_URL by the service, `rag worker` "
                               "and the CLI (api.jobs.ocr_cache); '' = each KB's folder (ocr-cache.sqlite)")
    # Uploaded files (the HTTP service): each one's bytes kept in the KB's folder (originals/, named by SHA-256),
    # so that `rag index` and POST /v1/kbs/{kb}/reparse can read it again after a parser or chunker upgrade
    keep_originals: bool = Field(True, description="keep each uploaded file in its KB's folder (originals/) so it "
                                 "can be read again after a parser upgrade; off: uploads are not kept (and those "
                                 "already kept are removed at the KB's next upload or delete), and an upgrade "
                                 "reaches them only when they are uploaded again; env RAG_KEEP_ORIGINALS")
    # 2048: 40 uploads at the 50 MB upload limit, or ~2,000 office files of a typical 1 MB
    originals_max_mb: float = Field(2048, gt=0, description="most MB of uploaded originals kept per KB; an upload "
                                    "past it is indexed but not kept (its job says so); env RAG_ORIGINALS_MAX_MB")
    chunk: ChunkSettings = Field(default_factory=ChunkSettings)

    @field_validator("ocr_cache_url")
    @classmethod
    def _ocr_cache_url(cls, value: str) -> str:
        return check_postgres_url(value) or ""

    @classmethod
    def load(cls, config_file: str | Path | None = None, **overrides: Any) -> "IndexerSettings":
        return load_settings(cls, config_file, **overrides)


class SettingsError(ValueError):
    """A setting the user gave is unusable: a value that does not validate (from the config file, the environment
    or a command-line option), a config file that is missing or not TOML. The message names the setting, where it
    came from, what was given and what is allowed; the `rag` command prints it without a traceback."""


def config_path(config_file: str | Path | None) -> tuple[Path | None, str]:
    """The TOML config file that applies (None: none) and what named it."""
    if config_file:
        return Path(config_file), "--config"
    if os.environ.get("RAG_CONFIG"):
        return Path(os.environ["RAG_CONFIG"]), "RAG_CONFIG"
    path = Path(os.environ.get("RAG_HOME", ".rag")) / "config.toml"
    return (path, "RAG_HOME") if path.exists() else (None, "")


def read_config_file(config_file: str | Path | None, section: str | None = None) -> dict[str, Any]:
    """The TOML config as a dict ({} when there is none). `section` picks a table, e.g. 'indexer'."""
    path, named_by = config_path(config_file)
    if path is None:
        return {}
    if not path.exists():
        raise SettingsError(f"config file {path} does not exist (given by {named_by})")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise SettingsError(f"config file {path} is not valid TOML: {e}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SettingsError(f"config file {path} cannot be read: {getattr(e, 'strerror', None) or e}") from None
    if not section:
        return data
    table = data
    for part in section.split("."):
        table = table.get(part, {}) if isinstance(table, dict) else {}
    if not isinstance(table, dict):
        raise SettingsError(f"config file {path}: [{section}] should be a table of settings, got {table!r}")
    return table


def load_settings(cls, config_file: str | Path | None = None, section: str | None = None,
                  overrides_from: str = "option --{option}", **overrides: Any):
    """Defaults < file < environment < overrides (overrides that are None are ignored).

    Raises SettingsError naming each invalid setting and where it came from: the file, the environment
    variable, or the override (`overrides_from`, formatted with the setting's `key` and `option` = the key as a
    command-line option)."""
    file_values = read_config_file(config_file, section)
    try:
        env_values = _env_values(cls)
    except ValidationError as e:
        raise SettingsError(_describe(e, cls, section, lambda loc, model: "environment variable "
                                      + _env_name(model, loc[-1]) if loc else "the environment")) from None
    overrides = {k: v for k, v in overrides.items() if v is not None}
    merged = _deep_merge(_deep_merge(file_values, env_values), overrides)
    try:
        return cls.model_validate(merged)
    except ValidationError as e:
        path = config_path(config_file)[0]

        def origin(loc: tuple, model) -> str:
            key = str(loc[0]) if loc else ""
            if key in overrides:
                return overrides_from.format(key=key, option=key.replace("_", "-"))
            if loc and _has(env_values, loc):
                return "environment variable " + _env_name(model, loc[-1])
            return f"config file {path}" if path is not None and _has(file_values, loc) else "the settings"

        raise SettingsError(_describe(e, cls, section, origin)) from None


def _env_values(cls) -> dict[str, Any]:
    """What the environment sets in `cls`, nested sections included: a nested section ([indexer.chunk]) is built by
    its default factory, which reads its own environment variables (RAG_CHUNK_*) too, so `exclude_defaults` counts
    what they set as the default and leaves it out, and a config file's value for it then won."""
    values = cls().model_dump(exclude_defaults=True)
    for name, info in cls.model_fields.items():
        nested = info.annotation
        if isinstance(nested, type) and issubclass(nested, BaseSettings):
            values[name] = _deep_merge(values.get(name, {}), _env_values(nested))
            if not values[name]:
                del values[name]
    return values


def load_sections(config_file: str | Path | None, sections: dict[str, tuple[type, dict[str, Any]]],
                  overrides_from: str = "option --{option}") -> dict[str, Any]:
    """Several sections at once, {section: (settings class, overrides)} -> {section: settings}; the invalid
    settings of all of them are reported together, in one SettingsError."""
    out, errors = {}, []
    for section, (cls, overrides) in sections.items():
        try:
            out[section] = load_settings(cls, config_file, section, overrides_from, **overrides)
        except SettingsError as e:
            errors += [line for line in str(e).splitlines() if line not in errors]
    if errors:
        raise SettingsError("\n".join(errors))
    return out


def unknown_settings(data: dict[str, Any], sections: dict[str, type]) -> list[str]:
    """What the config file `data` holds that no settings class reads, one line each with the closest known
    name: a misspelt key (`rate_limt`) or section (`[retreival]`) is otherwise ignored without a word, and
    the setting silently keeps its default."""
    out = []
    for name, value in data.items():
        if name in sections and isinstance(value, dict):
            out += _unknown_in(value, sections[name], name)
        elif isinstance(value, dict):
            out.append(f"unknown section [{name}]{_closest(name, sections)}")
        else:
            out.append(f"{name} = {value!r} outside any section (settings go in a section such as [indexer])")
    return out


def _unknown_in(table: dict[str, Any], cls, where: str) -> list[str]:
    out = []
    for key, value in table.items():
        info = cls.model_fields.get(key)
        if info is None:
            out.append(f"unknown setting [{where}] {key}{_closest(key, cls.model_fields)}")
        elif isinstance(value, dict) and hasattr(info.annotation, "model_fields"):
            out += _unknown_in(value, info.annotation, f"{where}.{key}")
    return out


def _closest(name: str, known) -> str:
    match = difflib.get_close_matches(name, list(known), n=1, cutoff=0.75)
    return f" (did you mean {match[0]}?)" if match else ""


def _has(values: dict, loc: tuple) -> bool:
    for part in loc:
        if not isinstance(values, dict) or part not in values:
            return False
        values = values[part]
    return True


def _env_name(model, field: Any) -> str:
    """The environment variable that sets `field` of `model` (the one set, where it has several names)."""
    info = model.model_fields.get(str(field))
    alias = getattr(info, "validation_alias", None)
    names = [c for c in getattr(alias, "choices", [alias]) if isinstance(c, str)] if alias is not None else []
    if not names:
        names = [model.model_config.get("env_prefix", "") + str(field).upper()]
    upper = {k.upper() for k in os.environ}
    return next((n for n in names if n.upper() in upper), names[0])


def _describe(error: ValidationError, cls, section: str | None, origin) -> str:
    """One line per invalid value: the setting, where it came from, what was given, what is allowed."""
    prefix = ()
    if error.title != cls.__name__:  # raised by a nested settings model built from the environment
        prefix = tuple(name for name, info in cls.model_fields.items()
                       if getattr(info.annotation, "__name__", None) == error.title)[:1]
    lines = []
    for err in error.errors():
        loc = prefix + tuple(err["loc"])
        model = cls  # the settings model holding the value
        for part in loc[:-1]:
            info = getattr(model, "model_fields", {}).get(str(part))
            model = info.annotation if info is not None and hasattr(info.annotation, "model_fields") else model
        where = ".".join([section or "indexer", *map(str, loc[:-1])])
        name = f"[{where}] {loc[-1]}" if loc else f"[{where}]"
        msg = err["msg"]
        msg = msg[0].lower() + msg[1:] if msg else msg
        given = hide_password(repr(err.get("input")))  # a database URL's password never reaches the line
        given = given if len(given) <= 80 else given[:77] + "..."
        lines.append(f"invalid setting {name} = {given} (from {origin(loc, model)}): {msg}")
    return "\n".join(lines)


def _deep_merge(base: dict, top: dict) -> dict:
    out = dict(base)
    for k, v in top.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out
