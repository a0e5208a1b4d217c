"""Run work in threads that start together, for tests of races on PostgreSQL."""

import threading

from django.db import connections


def run_at_once(work, times: int = 2) -> list[Exception]:
    """Run ``work`` in ``times`` threads released together; return what they raised.

    Each thread closes its own database connections when it is done, so
    the test database can be flushed afterwards.
    """
    barrier = threading.Barrier(times)
    errors: list[Exception] = []

    def run():
        try:
            barrier.wait()
            work()
        except Exception as exc:  # noqa: BLE001 - returned to the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
