"""GroupCommit: calls made while a round trip is on its way share the next one (no server needed)."""

import asyncio

import pytest

from adolf.group_commit import GroupCommit


class Recorder:
    def __init__(self, *, bad: set[int] = frozenset(), infra: bool = False) -> None:
        self.flushes: list[list[int]] = []
        self.bad = bad
        self.infra = infra
        self.gate = asyncio.Event()
        self.gate.set()

    async def flush(self, items):
        self.flushes.append(list(items))
        await self.gate.wait()
        if self.infra:
            raise ConnectionRefusedError("database away")
        if self.bad & set(items):
            raise ValueError(f"bad item among {sorted(items)}")
        return [item * 10 for item in items]


async def test_calls_of_one_moment_share_one_flush_and_each_gets_its_own_answer():
    recorder = Recorder()
    group = GroupCommit(recorder.flush)
    assert await asyncio.gather(*(group.submit(i) for i in range(50))) == [i * 10 for i in range(50)]
    assert recorder.flushes == [list(range(50))]


async def test_calls_made_while_a_flush_is_on_its_way_go_in_the_next_one():
    recorder = Recorder()
    recorder.gate.clear()
    group = GroupCommit(recorder.flush)
    first = asyncio.gather(*(group.submit(i) for i in range(3)))
    await asyncio.sleep(0)
    await asyncio.sleep(0)  # the first flush is on its way
    later = asyncio.gather(*(group.submit(i) for i in range(3, 8)))
    await asyncio.sleep(0)
    recorder.gate.set()
    assert await first == [0, 10, 20] and await later == [30, 40, 50, 60, 70]
    assert recorder.flushes == [[0, 1, 2], [3, 4, 5, 6, 7]]


async def test_one_key_never_twice_in_a_flush_and_batches_are_capped():
    recorder = Recorder()
    group = GroupCommit(recorder.flush, key=lambda item: item % 5, max_batch=3)
    assert await asyncio.gather(*(group.submit(i) for i in range(8))) == [i * 10 for i in range(8)]
    assert all(len(batch) <= 3 and len({i % 5 for i in batch}) == len(batch) for batch in recorder.flushes)
    assert sorted(i for batch in recorder.flushes for i in batch) == list(range(8))


async def test_a_bad_item_fails_alone():
    recorder = Recorder(bad={3})
    group = GroupCommit(recorder.flush)
    answers = await asyncio.gather(*(group.submit(i) for i in range(6)), return_exceptions=True)
    assert [a for i, a in enumerate(answers) if i != 3] == [0, 10, 20, 40, 50]
    assert isinstance(answers[3], ValueError)


async def test_an_infrastructure_error_fails_the_whole_flush_without_trying_each_item():
    recorder = Recorder(infra=True)
    group = GroupCommit(recorder.flush)
    answers = await asyncio.gather(*(group.submit(i) for i in range(4)), return_exceptions=True)
    assert all(isinstance(a, ConnectionRefusedError) for a in answers)
    assert recorder.flushes == [[0, 1, 2, 3]]


async def test_a_caller_that_stopped_waiting_before_the_flush_is_not_sent():
    recorder = Recorder()
    group = GroupCommit(recorder.flush)
    gone = asyncio.ensure_future(group.submit(1))
    stays = asyncio.ensure_future(group.submit(2))
    await asyncio.sleep(0)
    gone.cancel()
    assert await stays == 20
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert recorder.flushes == [[2]]


async def test_a_flush_answering_the_wrong_number_of_items_fails_them_instead_of_leaving_them_waiting():
    async def short(items):
        return list(items)[:-1]

    group = GroupCommit(short)
    answers = await asyncio.wait_for(asyncio.gather(*(group.submit(i) for i in range(3)), return_exceptions=True), 5)
    assert all(isinstance(a, RuntimeError) for a in answers)
