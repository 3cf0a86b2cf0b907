"""`rag kb synonyms NAME`: the words a KB's readers use for what its documents call otherwise."""
from __future__ import annotations

import json
import sys
from typing import Optional

import typer

from cli.audited import audited
from cli.state import fail, home_manager, open_kb

EXAMPLE = "挂号费, 诊查费   (two-way)   or   ATM card => debit card   (one-way)"


@audited("kb.synonyms", kb="name", detail=("set_file", "clear"))
def kb_synonyms(name: str,
                set_file: Optional[str] = typer.Option(None, "--set", metavar="FILE", help="replace the KB's "
                                                       f"synonyms with FILE's (- for standard input), one rule a line: {EXAMPLE}"),
                clear: bool = typer.Option(False, "--clear", help="remove the KB's synonyms"),
                check: Optional[str] = typer.Option(None, "--check", metavar="QUESTION",
                                                    help="show which terms of QUESTION the synonyms find and what "
                                                         "they add to its search"),
                as_json: bool = typer.Option(False, "--json")):
    """Show or set a KB's synonyms. Every question to the KB also searches what its terms mean, and
    quotes are matched through them; answers cached under other synonyms are not served."""
    from indexer.kbs import KBNotFound
    from indexer.store.base import KBLockedError
    from rag.synonyms.kb import documents_scripts, save_synonyms, stored_synonyms
    from rag.synonyms.matcher import matcher
    from rag.synonyms.rules import MAX_BYTES, SynonymError, Synonyms, parse

    if set_file is not None and clear:
        fail("give --set FILE or --clear, not both")
    if set_file is not None or clear:
        text = ""
        if set_file is not None:
            try:
                with (sys.stdin if set_file == "-" else open(set_file, encoding="utf-8")) as f:
                    text = f.read(MAX_BYTES + 1)
            except (OSError, UnicodeDecodeError) as e:
                fail(f"cannot read {set_file}: {e}; give a UTF-8 text file, one rule a line: {EXAMPLE}")
        try:
            synonyms = parse(text) if set_file is not None else Synonyms()
        except SynonymError as e:
            fail(f"{set_file}: {e}; the KB's synonyms are unchanged")
        try:  # under the KB's settings lock, not its writer lock: `rag index` running meanwhile does not hold it up
            save_synonyms(home_manager(), name, synonyms)
        except (KBNotFound, KBLockedError) as e:
            fail(f"{e}; the KB's synonyms are unchanged")
        print(f"{name}: {len(synonyms.rules)} synonym rules stored" if synonyms else f"{name}: synonyms removed")
        return
    _, store = open_kb(name)
    try:
        synonyms = stored_synonyms(store)
        # as a search reads them: also in the traditional characters the KB's documents write their terms in
        searched = documents_scripts(synonyms, store) if check is not None and synonyms else synonyms
    finally:
        store.close()
    if check is not None:
        m = matcher(searched)
        found = {"question": check, "searches_also": m.expansions(check), "asked_as": m.rewrites(check)}
        print(json.dumps(found, ensure_ascii=False, indent=2) if as_json else
              f"searches also: {', '.join(found['searches_also']) or '(nothing: no term of the synonyms is in it)'}")
        return
    if as_json:
        print(json.dumps(synonyms.as_dicts(), ensure_ascii=False, indent=2))
    elif not synonyms:
        print(f"{name} has no synonyms; set them with `rag kb synonyms {name} --set FILE`, one rule a line: {EXAMPLE}")
    else:
        print(synonyms.text(), end="")
