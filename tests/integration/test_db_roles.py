"""Each service connects as its own PostgreSQL role with rights on its own schema only
(issue 10, audit): the gateway cannot write — or read — another service's tables."""

from __future__ import annotations

import asyncpg
import pytest

from sanzheng_certificates.app import SPEC as CERTIFICATES
from sanzheng_gateway.app import SPEC as GATEWAY
from sanzheng_shared.db import roles
from sanzheng_shared.db.migrations import migrate

SECRET = "test-secret"


async def test_a_service_role_owns_its_schema_and_no_other(database_url: str) -> None:
    admin = await asyncpg.connect(database_url)
    try:
        assert await roles.can_provision(admin)
        # The certificates schema exists already (made by the admin, as an older install).
        await migrate(admin, CERTIFICATES.schema, CERTIFICATES.migrations, known_students=True)
        for spec in (CERTIFICATES, GATEWAY):
            await roles.provision(admin, spec.schema, SECRET)
            await roles.provision(admin, spec.schema, SECRET)  # idempotent
    finally:
        await admin.close()

    gateway = await asyncpg.connect(roles.url_for(database_url, GATEWAY.schema, SECRET))
    try:
        assert await gateway.fetchval("SELECT current_user") == "sanzheng_gateway"
        # Its own schema: it migrates and writes it.
        await migrate(gateway, GATEWAY.schema, GATEWAY.migrations)
        await gateway.execute(
            "INSERT INTO gateway.students (student_id, school_id, name, class_id, cohort)"
            " VALUES ('S1', 'SCH001', '张三', 'C1', 2024)"
        )
        # Another service's: neither written nor read.
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await gateway.execute(
                "INSERT INTO certificates.decisions (student_id, eligible, requirements,"
                " policy_version, decided_at) VALUES ('S1', true, '[]', 'p', now())"
            )
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await gateway.fetch("SELECT * FROM certificates.decisions")
    finally:
        await gateway.close()

    certificates = await asyncpg.connect(roles.url_for(database_url, CERTIFICATES.schema, SECRET))
    try:
        # The tables the admin made before are the role's now.
        await certificates.execute("DELETE FROM certificates.decisions")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await certificates.fetch("SELECT * FROM gateway.students")
    finally:
        await certificates.close()
