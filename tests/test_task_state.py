"""Only the legal task transitions are allowed."""

import itertools

import pytest

from schemas.task import TaskStatus as S
from streams.task_state import IllegalTransition, can_transition, check_transition

LEGAL = {(S.PENDING, S.RUNNING), (S.PENDING, S.CANCELLED), (S.PENDING, S.FAILED),
         (S.RUNNING, S.COMPLETED), (S.RUNNING, S.FAILED), (S.RUNNING, S.CANCELLED), (S.RUNNING, S.TIMEOUT)}


@pytest.mark.parametrize("old,new", list(itertools.product(S, S)))
def test_transition_matrix(old, new):
    assert can_transition(old, new) == ((old, new) in LEGAL)
    if (old, new) not in LEGAL:
        with pytest.raises(IllegalTransition):
            check_transition(old, new)
