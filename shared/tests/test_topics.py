from sanzheng_shared.kafka.topics import TopicNames


def test_topic_names_follow_the_spec() -> None:
    topics = TopicNames()
    assert topics.inbound("labor-education") == "sis.labor-education"
    assert topics.inbound("internship", "SCH001") == "sis.internship.SCH001"
    assert topics.outbound("certificates") == "certificates.events"
    assert topics.dlq(topics.inbound("enrollment")) == "sis.enrollment.dlq"
    assert {"sis.rejections", "graduation.events"} <= set(topics.all())


def test_a_prefix_separates_every_topic() -> None:
    assert all(name.startswith("t1.") for name in TopicNames("t1.").all())
