"""A writer waiting for a local KB's writer lock while the KB folder is swapped (an import replacing the KB, a
re-embedded copy put in its place) takes the lock of the KB now under the name, not the old KB's (indexer.store.local
.store.LocalStore._lock): holding the old one, it wrote the new KB beside that KB's own writer. Real local store."""
from __future__ import annotations

import threading

import pytest

from indexer import kb_trash
from indexer.store.base import KBLockedError


def test_a_writer_waiting_while_its_kb_is_replaced_waits_for_the_new_kbs_writer(manager):
    manager.open("bank", writable=True, create=True).close()
    old = manager.open("bank", writable=True)  # an upload writing the KB
    opened: list = []
    waiter = threading.Thread(target=lambda: opened.append(manager.open("bank", writable=True, lock_timeout=30)))
    waiter.start()
    waiter.join(0.5)
    assert waiter.is_alive()  # waiting for the upload
    kb_trash.set_aside(manager.home / "bank")  # the KB replaced, as an import puts its copy in place
    new = manager.open("bank", writable=True, create=True)  # and written at once
    old.close()
    waiter.join(1.0)
    assert waiter.is_alive() and not opened  # the old KB's lock is free, the new KB's still held: it waits
    new.close()
    waiter.join(30)
    (writer,) = opened
    try:
        assert not writer.replaced()  # a writer of the KB under the name
        with pytest.raises(KBLockedError):  # holding its lock
            manager.open("bank", writable=True, lock_timeout=0.3)
    finally:
        writer.close()


def test_a_writer_waiting_while_its_kb_is_deleted_is_told_so(manager):
    manager.open("bank", writable=True, create=True).close()
    old = manager.open("bank", writable=True)
    raised: list = []

    def wait():
        try:
            manager.open("bank", writable=True, lock_timeout=30).close()
        except Exception as e:  # noqa: BLE001  (what it raised is the assertion)
            raised.append(e)
    waiter = threading.Thread(target=wait)
    waiter.start()
    waiter.join(0.5)
    kb_trash.discard(manager.home / "bank")  # `rag kb delete`
    old.close()
    waiter.join(30)
    assert len(raised) == 1 and "was deleted while this writer waited" in str(raised[0]), raised
