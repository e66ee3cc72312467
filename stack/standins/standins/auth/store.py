"""Database access for the auth stand-in (psycopg 3, async, dict rows)."""
from __future__ import annotations

import datetime as _dt
import ipaddress
import uuid
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from . import tokens

Conn = psycopg.AsyncConnection


def utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


async def fetchone(conn: Conn, sql: str, params: Any = None) -> dict[str, Any] | None:
    cur = await conn.execute(sql, params)
    return await cur.fetchone()


async def fetchall(conn: Conn, sql: str, params: Any = None) -> list[dict[str, Any]]:
    cur = await conn.execute(sql, params)
    return await cur.fetchall()


# ---------------------------------------------------------------- users

async def user_by_id(conn: Conn, user_id: uuid.UUID | str, *, for_update: bool = False) -> dict[str, Any] | None:
    sql = "SELECT * FROM auth.users WHERE id = %s"
    if for_update:
        sql += " FOR UPDATE"
    return await fetchone(conn, sql, (str(user_id),))


async def user_by_email(conn: Conn, email: str, aud: str) -> dict[str, Any] | None:
    return await fetchone(
        conn,
        "SELECT * FROM auth.users WHERE lower(email) = lower(%s) AND aud = %s AND is_sso_user = false "
        "ORDER BY created_at LIMIT 1",
        (email, aud),
    )


async def email_taken(conn: Conn, email: str, aud: str, exclude: uuid.UUID | str | None = None) -> bool:
    row = await fetchone(
        conn,
        "SELECT 1 AS x FROM auth.users WHERE lower(email) = lower(%s) AND aud = %s AND is_sso_user = false "
        "AND (%s::uuid IS NULL OR id <> %s::uuid) LIMIT 1",
        (email, aud, None if exclude is None else str(exclude), None if exclude is None else str(exclude)),
    )
    return row is not None


async def phone_taken(conn: Conn, phone: str, aud: str, exclude: uuid.UUID | str | None = None) -> bool:
    row = await fetchone(
        conn,
        "SELECT 1 AS x FROM auth.users WHERE phone = %s AND aud = %s "
        "AND (%s::uuid IS NULL OR id <> %s::uuid) LIMIT 1",
        (phone, aud, None if exclude is None else str(exclude), None if exclude is None else str(exclude)),
    )
    return row is not None


async def insert_user(conn: Conn, *, user_id: uuid.UUID, aud: str, role: str, email: str | None,
                      phone: str | None, encrypted_password: str, app_metadata: dict, user_metadata: dict,
                      email_confirmed: bool = False, phone_confirmed: bool = False,
                      confirmation_sent: bool = False, banned_until: _dt.datetime | None = None) -> dict[str, Any]:
    now = utcnow()
    return await fetchone(
        conn,
        """INSERT INTO auth.users (instance_id, id, aud, role, email, phone, encrypted_password,
               email_confirmed_at, phone_confirmed_at, confirmation_sent_at, raw_app_meta_data,
               raw_user_meta_data, is_super_admin, created_at, updated_at, banned_until, is_sso_user,
               is_anonymous)
           VALUES ('00000000-0000-0000-0000-000000000000', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
                   NULL, %s, %s, %s, false, false)
           RETURNING *""",
        (str(user_id), aud, role, email, phone, encrypted_password,
         now if email_confirmed else None, now if phone_confirmed else None,
         now if confirmation_sent else None, Jsonb(app_metadata), Jsonb(user_metadata), now, now,
         banned_until),
    )


async def update_user(conn: Conn, user_id: uuid.UUID | str, **fields: Any) -> dict[str, Any]:
    """UPDATE auth.users SET <fields>, updated_at = now() ... RETURNING *."""
    cols, vals = [], []
    for k, v in fields.items():
        cols.append(f'"{k}" = %s')
        vals.append(Jsonb(v) if isinstance(v, dict) else v)
    cols.append("updated_at = %s")
    vals.append(utcnow())
    vals.append(str(user_id))
    return await fetchone(conn, f"UPDATE auth.users SET {', '.join(cols)} WHERE id = %s RETURNING *", vals)


async def delete_user(conn: Conn, user_id: uuid.UUID | str) -> None:
    await conn.execute("DELETE FROM auth.users WHERE id = %s", (str(user_id),))


async def list_users(conn: Conn, aud: str, page: int, per_page: int, filter_text: str = "") -> tuple[list, int]:
    where = "aud = %s"
    params: list[Any] = [aud]
    if filter_text:
        like = f"%{filter_text}%"
        where += " AND (email ILIKE %s OR raw_user_meta_data ->> 'full_name' ILIKE %s)"
        params += [like, like]
    total_row = await fetchone(conn, f"SELECT count(*) AS n FROM auth.users WHERE {where}", params)
    rows = await fetchall(
        conn,
        f"SELECT * FROM auth.users WHERE {where} ORDER BY created_at DESC, id LIMIT %s OFFSET %s",
        params + [per_page, (page - 1) * per_page],
    )
    return rows, int(total_row["n"]) if total_row else 0


# ---------------------------------------------------------------- identities

async def insert_identity(conn: Conn, *, user_id: uuid.UUID | str, provider: str, provider_id: str,
                          data: dict[str, Any]) -> dict[str, Any]:
    now = utcnow()
    return await fetchone(
        conn,
        """INSERT INTO auth.identities (id, provider_id, user_id, identity_data, provider, last_sign_in_at,
                                         created_at, updated_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING *""",
        (str(uuid.uuid4()), provider_id, str(user_id), Jsonb(data), provider, now, now, now),
    )


async def identities_for(conn: Conn, user_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {u: [] for u in user_ids}
    if not user_ids:
        return out
    rows = await fetchall(
        conn, "SELECT * FROM auth.identities WHERE user_id = ANY(%s::uuid[]) ORDER BY created_at", (user_ids,)
    )
    for r in rows:
        out.setdefault(str(r["user_id"]), []).append(r)
    return out


async def update_identity_data(conn: Conn, user_id: uuid.UUID | str, provider: str, updates: dict) -> None:
    await conn.execute(
        "UPDATE auth.identities SET identity_data = identity_data || %s, updated_at = %s "
        "WHERE user_id = %s AND provider = %s",
        (Jsonb(updates), utcnow(), str(user_id), provider),
    )


# ---------------------------------------------------------------- sessions and refresh tokens

def _ip(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


async def create_session(conn: Conn, *, user_id: uuid.UUID | str, method: str, user_agent: str | None,
                         ip: str | None) -> tuple[str, str, list[dict[str, Any]]]:
    """New session + first refresh token. Returns (session_id, refresh_token, amr)."""
    now = utcnow()
    session_id = str(uuid.uuid4())
    await conn.execute(
        "INSERT INTO auth.sessions (id, user_id, created_at, updated_at, aal, user_agent, ip) "
        "VALUES (%s, %s, %s, %s, 'aal1', %s, %s)",
        (session_id, str(user_id), now, now, user_agent, _ip(ip)),
    )
    await conn.execute(
        "INSERT INTO auth.mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method) "
        "VALUES (%s, %s, %s, %s, %s)",
        (str(uuid.uuid4()), session_id, now, now, method),
    )
    token = await insert_refresh_token(conn, user_id=user_id, session_id=session_id, parent=None)
    await conn.execute("UPDATE auth.users SET last_sign_in_at = %s WHERE id = %s", (now, str(user_id)))
    return session_id, token, [{"method": method, "timestamp": int(now.timestamp())}]


async def insert_refresh_token(conn: Conn, *, user_id: uuid.UUID | str, session_id: str,
                               parent: str | None) -> str:
    now = utcnow()
    token = tokens.new_refresh_token()
    await conn.execute(
        "INSERT INTO auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, "
        "session_id) VALUES ('00000000-0000-0000-0000-000000000000', %s, %s, false, %s, %s, %s, %s)",
        (token, str(user_id), now, now, parent, session_id),
    )
    return token


async def session_amr(conn: Conn, session_id: str) -> list[dict[str, Any]]:
    rows = await fetchall(
        conn,
        "SELECT authentication_method, updated_at FROM auth.mfa_amr_claims WHERE session_id = %s "
        "ORDER BY updated_at DESC",
        (session_id,),
    )
    return [{"method": r["authentication_method"], "timestamp": int(r["updated_at"].timestamp())} for r in rows]


async def session_by_id(conn: Conn, session_id: str) -> dict[str, Any] | None:
    return await fetchone(conn, "SELECT * FROM auth.sessions WHERE id = %s", (session_id,))


async def refresh_token_locked(conn: Conn, token: str) -> dict[str, Any] | None:
    """The refresh token row joined with its session, both locked (inside a transaction)."""
    return await fetchone(
        conn,
        """SELECT rt.id AS rt_id, rt.token, rt.user_id AS rt_user_id, rt.revoked, rt.parent, rt.updated_at AS
                  rt_updated_at, rt.session_id, s.not_after, s.user_id AS s_user_id
             FROM auth.refresh_tokens rt
             LEFT JOIN auth.sessions s ON s.id = rt.session_id
            WHERE rt.token = %s
            FOR UPDATE OF rt""",
        (token,),
    )


async def lock_session(conn: Conn, session_id: str) -> None:
    await conn.execute("SELECT 1 FROM auth.sessions WHERE id = %s FOR UPDATE", (session_id,))


async def active_refresh_token(conn: Conn, session_id: str) -> dict[str, Any] | None:
    return await fetchone(
        conn,
        "SELECT token, parent FROM auth.refresh_tokens WHERE session_id = %s AND revoked IS false "
        "ORDER BY id DESC LIMIT 1",
        (session_id,),
    )


async def revoke_token(conn: Conn, rt_id: int) -> None:
    await conn.execute("UPDATE auth.refresh_tokens SET revoked = true, updated_at = %s WHERE id = %s",
                       (utcnow(), rt_id))


async def revoke_token_family(conn: Conn, session_id: str) -> None:
    # updated_at is left alone: it dates the rotation that the reuse interval counts from
    await conn.execute(
        "UPDATE auth.refresh_tokens SET revoked = true WHERE session_id = %s AND revoked = false",
        (session_id,),
    )


async def has_child(conn: Conn, token: str) -> bool:
    return await fetchone(conn, "SELECT 1 AS x FROM auth.refresh_tokens WHERE parent = %s LIMIT 1", (token,)) is not None


async def touch_session(conn: Conn, session_id: str, user_agent: str | None, ip: str | None) -> None:
    now = utcnow()
    await conn.execute(
        "UPDATE auth.sessions SET refreshed_at = %s, updated_at = %s, user_agent = %s, ip = %s WHERE id = %s",
        (now.replace(tzinfo=None), now, user_agent, _ip(ip), session_id),
    )


async def delete_session(conn: Conn, session_id: str) -> None:
    await conn.execute("DELETE FROM auth.sessions WHERE id = %s", (session_id,))


async def delete_sessions_of_user(conn: Conn, user_id: uuid.UUID | str, except_session: str | None = None) -> None:
    if except_session:
        await conn.execute("DELETE FROM auth.sessions WHERE user_id = %s AND id <> %s",
                           (str(user_id), except_session))
    else:
        await conn.execute("DELETE FROM auth.sessions WHERE user_id = %s", (str(user_id),))
    # tokens of pre-session GoTrue rows have no session; clear them too
    await conn.execute("DELETE FROM auth.refresh_tokens WHERE user_id = %s AND session_id IS NULL", (str(user_id),))


async def count_active_sessions(conn: Conn) -> int:
    row = await fetchone(conn, "SELECT count(*) AS n FROM auth.sessions WHERE not_after IS NULL OR not_after > now()")
    return int(row["n"]) if row else 0
