"""The paced stage's messages, generated before its clock starts."""

from sanzheng.bench import workload
from sanzheng_shared.kafka.topics import TopicNames


def test_generated_ahead_are_the_students_a_paced_publish_would_send() -> None:
    topics = TopicNames()
    taken = list(workload.spooled(workload.ahead(workload.students(10**9, 7, topics), 100)))
    sent = sum(len(batch) for batch in taken)
    # It stops at the first student boundary at or past the count, as `publish` does.
    assert sent >= 100
    assert sent - len(taken[-1]) < 100
    assert len(taken) == workload.students_for(100, 7, topics)
    again = list(workload.students(len(taken), 7, topics))
    assert [[m.event_id for m in b] for b in taken] == [[m.event_id for m in b] for b in again]


def test_without_a_count_every_student_is_generated() -> None:
    topics = TopicNames()
    spool = workload.ahead(workload.students(3, 7, topics), None)
    taken = list(workload.spooled(spool))
    assert not spool.exists(), "read back once, then removed"
    assert len(taken) == 3
