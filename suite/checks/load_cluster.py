"""The containerised load run (master + workers, loadtests/compose.yaml): judged on the
master's summary and the plain asyncio floor measured in the same run (loadtests/floor.py).

Pure: takes the master's JSON summary and the floor's JSON figure, returns problem strings
naming the run, what was measured, the bound and where to look.
"""
from __future__ import annotations


def check_cluster(name: str, summary: dict, floor: dict, workers: int, floor_ratio_max: float) -> list[str]:
    run = f"load run {name} (master + {workers} workers)"
    problems = []
    verdict = summary["verdict"]
    if not verdict["passed"]:
        problems.append(f"{run}: the master's verdict failed, SLO(s) breached: {'; '.join(verdict['breached'])} "
                        f"(reports/load-{name}.json)")
    dropped = summary.get("counters", {}).get("ws dropped", 0)
    if dropped:
        problems.append(f"{run}: {dropped} established WebSocket connection(s) dropped (limit 0): the server or "
                        f"the gateway closed them; read the realtime and gateway logs of the run's window")
    processes = summary["generator"]["processes"]
    if len(processes) != workers:
        problems.append(f"{run}: samples from {len(processes)} generator process(es) {sorted(processes)}, expected "
                        f"{workers}: a worker never reported to the master (docker compose -p <project>-load logs "
                        f"worker)")
    if floor.get("held") != floor.get("connections") or not floor.get("kb_per_connection"):
        problems.append(f"{run}: the floor held {floor.get('held')} of {floor.get('connections')} connections "
                        f"(dropped {floor.get('dropped')}, refused {floor.get('connect_failed')}): no floor to judge "
                        f"the generator's memory by (reports/floor-{name}.json)")
        return problems
    kb = summary["generator"].get("kb_per_connection")
    if kb is None:
        problems.append(f"{run}: the workers reported no memory per connection (no connection held)")
        return problems
    ratio = kb / floor["kb_per_connection"]
    if ratio > floor_ratio_max:
        problems.append(f"{run}: generator memory {kb:g} KB per connection over {len(processes)} worker(s) is "
                        f"{ratio:.2f}x the plain asyncio floor's {floor['kb_per_connection']:g} KB (limit "
                        f"{floor_ratio_max:g}x, thresholds.yaml load.generator.floor_ratio_max): each Locust user "
                        f"keeps more than its connection; look at what loadtests/ws_users.py holds per user")
    return problems


def describe(summary: dict, floor: dict) -> str:
    """One line of the run's cost against the floor, for the report."""
    kb, base = summary["generator"].get("kb_per_connection"), floor.get("kb_per_connection")
    ratio = f" ({kb / base:.2f}x)" if kb and base else ""
    return (f"generator {kb} KB/connection over {len(summary['generator']['processes'])} worker(s){ratio}; "
            f"plain asyncio floor {base} KB/connection at {floor.get('held')} connections "
            f"(heartbeat p99 {floor.get('heartbeat_rtt_ms', {}).get('p99')} ms)")
