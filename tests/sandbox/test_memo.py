from dataclasses import dataclass

from gateway.sandbox.memo import OrgMemo


@dataclass(frozen=True)
class Org:
    name: str


def counting_memo(size: int = 4) -> tuple[OrgMemo[Org, int, str], list[tuple[str, int]]]:
    calls: list[tuple[str, int]] = []

    def compute(org: Org, key: int) -> str:
        calls.append((org.name, key))
        return f"{org.name}:{key}"

    return OrgMemo(compute, size=size), calls


def test_one_computation_per_org_and_key() -> None:
    memo, calls = counting_memo()
    aurora = Org("aurora")
    assert [memo(aurora, 1), memo(aurora, 1), memo(aurora, 2)] == ["aurora:1"] * 2 + ["aurora:2"]
    assert calls == [("aurora", 1), ("aurora", 2)]


def test_an_equal_but_distinct_org_is_computed_anew() -> None:
    # Regenerated data (another SandboxState) must never be answered from the old one's memo.
    memo, calls = counting_memo()
    memo(Org("aurora"), 1)
    memo(Org("aurora"), 1)
    assert len(calls) == 2


def test_the_memo_is_bounded() -> None:
    memo, calls = counting_memo(size=2)
    aurora = Org("aurora")
    for key in (1, 2, 3):
        memo(aurora, key)
    memo(aurora, 1)  # the oldest was dropped
    memo(aurora, 3)
    assert calls == [("aurora", 1), ("aurora", 2), ("aurora", 3), ("aurora", 1)]
