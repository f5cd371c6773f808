"""SIDs: Twilio's shape, ordered by time, and never repeated, across threads and forks."""

from __future__ import annotations

import os
import threading

import pytest

from maskline import sids


def test_a_sid_has_twilio_shape_and_starts_with_the_time() -> None:
    first = sids.new_sid(sids.PARTICIPANT)
    assert sids.is_sid(first, sids.PARTICIPANT)
    later = sids.new_sid(sids.PARTICIPANT)
    # The 12 hex digits after the prefix are milliseconds: they never go backwards.
    assert int(later[2:14], 16) >= int(first[2:14], 16)


def test_sids_made_on_many_threads_are_all_distinct() -> None:
    made: list[list[str]] = [[] for _ in range(4)]

    def make(into: list[str]) -> None:
        into.extend(sids.new_sid(sids.SESSION) for _ in range(5_000))

    threads = [threading.Thread(target=make, args=(into,)) for into in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [sid for into in made for sid in into]
    assert len(set(everything)) == len(everything) == 20_000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_process_does_not_repeat_its_parents_random_part() -> None:
    sids.new_sid(sids.SESSION)  # the parent has bytes buffered that a child could inherit
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.write(write, "".join(sids.new_sid(sids.SESSION)[14:] for _ in range(50)).encode())
        os._exit(0)
    os.close(write)
    received = b""
    while chunk := os.read(read, 65536):
        received += chunk
    os.close(read)
    os.waitpid(pid, 0)
    child = {received[i : i + 20].decode() for i in range(0, len(received), 20)}
    parent = {sids.new_sid(sids.SESSION)[14:] for _ in range(50)}
    assert len(child) == 50
    assert not child & parent
