"""HTTP API of the auth stand-in: GoTrue's endpoints, shapes and error codes."""
from __future__ import annotations

import asyncio
import datetime as _dt
import logging
import re
import time
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode

import orjson
import psycopg
from aiohttp import web
from psycopg_pool import AsyncConnectionPool

from . import errors, passwords, serialize, store, tokens, validation
from .config import Config, parse_go_duration
from .metrics import Metrics

log = logging.getLogger("standins.auth")

_BEARER = re.compile(r"^(?:B|b)earer (\S+$)")
_NIL_UUID = "00000000-0000-0000-0000-000000000000"
# only these query parameters are logged (others may carry secrets)
_LOGGED_QUERY = ("grant_type", "scope", "page", "per_page")

SERVICE_KEY = web.AppKey("auth_service", object)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json",
                        headers=headers)


async def _read_params(request: web.Request, struct: str, spec: dict[str, type], *,
                       optional: bool = False) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        if optional:
            return {}
        raise errors.bad_request(errors.BAD_JSON, "Could not parse request body as JSON: unexpected end of JSON input")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise errors.bad_request(errors.BAD_JSON, f"Could not parse request body as JSON: {e}") from None
    return validation.params(body, spec, struct)


def _client_ip(request: web.Request) -> str | None:
    fwd = request.headers.get("X-Forwarded-For")
    if fwd:
        return fwd.split(",")[0].strip()
    return request.remote


def _is_banned(user: dict[str, Any]) -> bool:
    until = user.get("banned_until")
    return until is not None and until > store.utcnow()


class AuthService:
    def __init__(self, cfg: Config, pool: AsyncConnectionPool, metrics: Metrics | None = None,
                 executor: ThreadPoolExecutor | None = None):
        self.cfg = cfg
        self.pool = pool
        self.metrics = metrics or Metrics()
        self.executor = executor or ThreadPoolExecutor(max_workers=4, thread_name_prefix="bcrypt")
        self._sessions_cache: tuple[float, int] = (0.0, 0)

    # ---------------------------------------------------------------- helpers

    async def _hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(self.executor, passwords.hash_password, password)

    async def _verify(self, password: str, hashed: str | None) -> bool:
        return await asyncio.get_running_loop().run_in_executor(
            self.executor, passwords.verify_password, password, hashed)

    def _check_password(self, password: str) -> None:
        passwords.check_strength(password, self.cfg.password_min_length, self.cfg.password_required_characters)

    def _aud(self, request: web.Request) -> str:
        return request.headers.get("X-JWT-AUD") or self.cfg.jwt_aud

    def _claims(self, request: web.Request) -> dict[str, Any]:
        m = _BEARER.match(request.headers.get("Authorization", ""))
        if not m:
            raise errors.unauthorized(errors.NO_AUTHORIZATION, "This endpoint requires a valid Bearer token")
        return tokens.decode(m.group(1), self.cfg.jwt_secret)

    async def _authenticate(self, conn: store.Conn, claims: dict[str, Any]):
        """GoTrue's requireAuthentication after the JWT check: load the user and session."""
        sub = claims.get("sub")
        if not sub:
            raise errors.forbidden(errors.BAD_JWT, "invalid claim: missing sub claim")
        uid = validation.parse_uuid(sub) if isinstance(sub, str) else None
        if uid is None:
            raise errors.bad_request(errors.BAD_JWT, "invalid claim: sub claim must be a UUID")
        user = await store.user_by_id(conn, uid)
        if user is None:
            raise errors.forbidden(errors.USER_NOT_FOUND, "User from sub claim in JWT does not exist")
        session = None
        sid = claims.get("session_id")
        if sid and sid != _NIL_UUID:
            sid_uuid = validation.parse_uuid(sid) if isinstance(sid, str) else None
            if sid_uuid is None:
                raise errors.forbidden(errors.BAD_JWT, "invalid claim: session_id claim must be a UUID")
            session = await store.session_by_id(conn, str(sid_uuid))
            if session is None:
                raise errors.forbidden(errors.SESSION_NOT_FOUND, "Session from session_id claim in JWT does not exist")
        return user, session

    def _require_admin(self, request: web.Request) -> dict[str, Any]:
        claims = self._claims(request)
        if claims.get("role") not in self.cfg.jwt_admin_roles:
            raise errors.forbidden(errors.NOT_ADMIN, "User not allowed")
        return claims

    async def _user_out(self, conn: store.Conn, user: dict[str, Any]) -> dict[str, Any]:
        ids = await store.identities_for(conn, [str(user["id"])])
        return serialize.user_json(user, ids.get(str(user["id"]), []))

    async def _token_response(self, conn: store.Conn, user: dict[str, Any], session_id: str, refresh_token: str,
                              amr: list[dict[str, Any]], weak: dict | None = None) -> dict[str, Any]:
        claims = tokens.access_token_claims(user=user, session_id=session_id, issuer=self.cfg.issuer,
                                            exp_seconds=self.cfg.jwt_exp, amr=amr)
        access = tokens.encode(claims, self.cfg.jwt_secret, self.cfg.jwt_kid)
        return tokens.token_response(access_token=access, refresh_token=refresh_token,
                                     expires_in=self.cfg.jwt_exp, expires_at=claims["exp"],
                                     user=await self._user_out(conn, user), weak_password=weak)

    # ---------------------------------------------------------------- public endpoints

    async def health(self, request: web.Request) -> web.Response:
        return _json({"version": self.cfg.version, "name": "GoTrue",
                      "description": "GoTrue is a user registration and authentication API"})

    async def settings(self, request: web.Request) -> web.Response:
        external = {name: False for name in (
            "anonymous_users", "apple", "azure", "bitbucket", "discord", "facebook", "figma", "fly", "github",
            "gitlab", "google", "keycloak", "kakao", "linkedin", "linkedin_oidc", "notion", "spotify", "slack",
            "slack_oidc", "workos", "twitch", "twitter", "email", "phone", "zoom")}
        external["email"] = self.cfg.external_email_enabled
        external["phone"] = self.cfg.external_phone_enabled
        return _json({"external": external, "disable_signup": self.cfg.disable_signup,
                      "mailer_autoconfirm": self.cfg.mailer_autoconfirm, "phone_autoconfirm": False,
                      "sms_provider": "", "saml_enabled": False})

    async def jwks(self, request: web.Request) -> web.Response:
        return _json({"keys": []})  # HS256 only: no public keys to publish

    async def signup(self, request: web.Request) -> web.Response:
        cfg = self.cfg
        if cfg.disable_signup:
            raise errors.unprocessable(errors.SIGNUP_DISABLED, "Signups not allowed for this instance")
        p = await _read_params(request, "SignupParams", {
            "email": str, "phone": str, "password": str, "data": dict, "channel": str,
            "code_challenge": str, "code_challenge_method": str})
        email, phone, password = p.get("email", ""), p.get("phone", ""), p.get("password", "")
        data = p.get("data") or {}
        if password == "":
            raise errors.bad_request(errors.VALIDATION_FAILED, "Signup requires a valid password")
        self._check_password(password)
        if email and phone:
            raise errors.bad_request(errors.VALIDATION_FAILED,
                                     "Only an email address or phone number should be provided on signup.")
        if email:
            if not cfg.external_email_enabled:
                raise errors.bad_request(errors.EMAIL_PROVIDER_DISABLED, "Email signups are disabled")
            email = validation.validate_email(email)
        elif phone:
            raise errors.bad_request(errors.PHONE_PROVIDER_DISABLED, "Phone signups are disabled")
        else:
            msg = ("Sign up only available with email provider" if cfg.external_email_enabled
                   else "Sign up with this provider not possible")
            raise errors.bad_request(errors.VALIDATION_FAILED, msg)
        aud = self._aud(request)

        async with self.pool.connection() as conn:
            existing = await store.user_by_email(conn, email, aud)
            if existing is not None:
                if existing["email_confirmed_at"] is not None:
                    if cfg.mailer_autoconfirm:
                        raise errors.unprocessable(errors.USER_ALREADY_EXISTS, "User already registered")
                    # GoTrue answers with a fabricated user so signup cannot enumerate accounts
                    now = store.utcnow()
                    return _json(serialize.user_json({
                        "id": uuid.uuid4(), "aud": aud, "role": "", "email": email, "phone": "",
                        "confirmation_sent_at": now, "created_at": now, "updated_at": now,
                        "raw_app_meta_data": {"provider": "email", "providers": ["email"]},
                        "raw_user_meta_data": data}, []))
                # pending confirmation: the row is not touched (the caller proved nothing)
                user = await store.update_user(conn, existing["id"], confirmation_sent_at=store.utcnow())
                return _json(await self._user_out(conn, user))

            hashed = await self._hash(password)
            user_id = uuid.uuid4()
            confirmed = cfg.mailer_autoconfirm
            user_meta = dict(data)
            if confirmed:
                user_meta["email_verified"] = True
            identity_data = {"sub": str(user_id), "email": email, "email_verified": False, "phone_verified": False}
            for k, v in data.items():
                identity_data.setdefault(k, v)
            try:
                async with conn.transaction():
                    user = await store.insert_user(
                        conn, user_id=user_id, aud=aud, role=cfg.jwt_default_group, email=email, phone=None,
                        encrypted_password=hashed, app_metadata={"provider": "email", "providers": ["email"]},
                        user_metadata=user_meta, email_confirmed=confirmed, confirmation_sent=not confirmed)
                    await store.insert_identity(conn, user_id=user_id, provider="email",
                                                provider_id=str(user_id), data=identity_data)
                    session = None
                    if confirmed:
                        session = await store.create_session(conn, user_id=user_id, method="password",
                                                             user_agent=request.headers.get("User-Agent"),
                                                             ip=_client_ip(request))
                        user = await store.user_by_id(conn, user_id)
            except psycopg.errors.UniqueViolation:
                raise errors.unprocessable(errors.USER_ALREADY_EXISTS, "User already registered") from None
            self.metrics.signups.inc()
            if session is None:
                return _json(await self._user_out(conn, user))
            session_id, refresh, amr = session
            return _json(await self._token_response(conn, user, session_id, refresh, amr))

    async def token(self, request: web.Request) -> web.Response:
        grant = request.query.get("grant_type", "")
        if grant == "password":
            return await self._password_grant(request)
        if grant == "refresh_token":
            return await self._refresh_grant(request)
        raise errors.OAuthError("unsupported_grant_type")

    async def _password_grant(self, request: web.Request) -> web.Response:
        try:
            return await self._password_grant_inner(request)
        except (errors.APIError, errors.OAuthError):
            self.metrics.sign_ins.labels("failed").inc()
            raise

    async def _password_grant_inner(self, request: web.Request) -> web.Response:
        cfg = self.cfg
        p = await _read_params(request, "PasswordGrantParams", {"email": str, "phone": str, "password": str})
        email, phone, password = p.get("email", ""), p.get("phone", ""), p.get("password", "")
        if email and phone:
            raise errors.bad_request(errors.VALIDATION_FAILED,
                                     "Only an email address or phone number should be provided on login.")
        if email:
            if not cfg.external_email_enabled:
                raise errors.unprocessable(errors.EMAIL_PROVIDER_DISABLED, "Email logins are disabled")
        elif phone:
            raise errors.unprocessable(errors.PHONE_PROVIDER_DISABLED, "Phone logins are disabled")
        else:
            raise errors.bad_request(errors.VALIDATION_FAILED, "missing email or phone")
        invalid = errors.bad_request(errors.INVALID_CREDENTIALS, errors.INVALID_LOGIN_MESSAGE)
        async with self.pool.connection() as conn:
            user = await store.user_by_email(conn, email, self._aud(request))
            if user is None or not user.get("encrypted_password"):
                raise invalid
            if _is_banned(user):
                raise errors.bad_request(errors.USER_BANNED, "User is banned")
            if not await self._verify(password, user["encrypted_password"]):
                raise invalid
            if user["email_confirmed_at"] is None:
                raise errors.bad_request(errors.EMAIL_NOT_CONFIRMED, "Email not confirmed")
            async with conn.transaction():
                session_id, refresh, amr = await store.create_session(
                    conn, user_id=user["id"], method="password", user_agent=request.headers.get("User-Agent"),
                    ip=_client_ip(request))
                user = await store.user_by_id(conn, user["id"])
            weak = passwords.weakness(password, cfg.password_min_length, cfg.password_required_characters)
            body = await self._token_response(conn, user, session_id, refresh, amr, weak)
        self.metrics.sign_ins.labels("ok").inc()
        return _json(body)

    async def _refresh_grant(self, request: web.Request) -> web.Response:
        try:
            resp = await self._refresh_grant_inner(request)
        except (errors.APIError, errors.OAuthError):
            self.metrics.refreshes.labels("failed").inc()
            raise
        self.metrics.refreshes.labels("ok").inc()
        return resp

    async def _refresh_grant_inner(self, request: web.Request) -> web.Response:
        cfg = self.cfg
        p = await _read_params(request, "RefreshTokenGrantParams", {"refresh_token": str})
        presented = p.get("refresh_token", "")
        if not presented:
            raise errors.OAuthError("invalid_request", "refresh_token required")
        async with self.pool.connection() as conn:
            deferred: errors.APIError | None = None
            async with conn.transaction():
                row = await store.refresh_token_locked(conn, presented)
                if row is None:
                    raise errors.bad_request(errors.REFRESH_TOKEN_NOT_FOUND,
                                             "Invalid Refresh Token: Refresh Token Not Found")
                user = await store.user_by_id(conn, row["rt_user_id"]) if row["rt_user_id"] else None
                if user is None:
                    raise errors.bad_request(errors.REFRESH_TOKEN_NOT_FOUND,
                                             "Invalid Refresh Token: Refresh Token Not Found")
                if _is_banned(user):
                    raise errors.bad_request(errors.USER_BANNED, "Invalid Refresh Token: User Banned")
                session_id = row["session_id"]
                if session_id is None or row["s_user_id"] is None:
                    raise errors.bad_request(errors.SESSION_NOT_FOUND, "Invalid Refresh Token: No Valid Session Found")
                session_id = str(session_id)
                now = store.utcnow()
                if row["not_after"] is not None and now > row["not_after"]:
                    raise errors.bad_request(errors.SESSION_EXPIRED, "Invalid Refresh Token: Session Expired")
                await store.lock_session(conn, session_id)
                issued: str | None = None
                if row["revoked"]:
                    active = await store.active_refresh_token(conn, session_id)
                    if active is not None and active["parent"] == row["token"]:
                        # the client lost the previous answer: hand back the current token
                        issued = active["token"]
                    elif (now > row["rt_updated_at"] + _dt.timedelta(seconds=cfg.refresh_token_reuse_interval)
                          # a token revoked with its family (never rotated) gets no grace period
                          or not await store.has_child(conn, row["token"])):
                        if cfg.refresh_token_rotation_enabled:
                            await store.revoke_token_family(conn, session_id)
                        log.warning(orjson.dumps({"level": "warning", "msg": "refresh token reuse detected",
                                                  "session_id": session_id, "user_id": str(user["id"])}).decode())
                        deferred = errors.bad_request(errors.REFRESH_TOKEN_ALREADY_USED,
                                                      "Invalid Refresh Token: Already Used")
                if deferred is None:
                    if issued is None:
                        await store.revoke_token(conn, row["rt_id"])
                        issued = await store.insert_refresh_token(conn, user_id=user["id"], session_id=session_id,
                                                                  parent=row["token"])
                    await store.touch_session(conn, session_id, request.headers.get("User-Agent"),
                                              _client_ip(request))
                    amr = await store.session_amr(conn, session_id)
            if deferred is not None:  # raised after COMMIT: the family stays revoked
                raise deferred
            body = await self._token_response(conn, user, session_id, issued, amr)
        return _json(body)

    # ---------------------------------------------------------------- user endpoints

    async def user_get(self, request: web.Request) -> web.Response:
        claims = self._claims(request)
        async with self.pool.connection() as conn:
            user, _ = await self._authenticate(conn, claims)
            aud = claims.get("aud")
            first = aud[0] if isinstance(aud, list) and aud else aud
            if not first or first != self._aud(request):
                raise errors.bad_request(errors.VALIDATION_FAILED, "Token audience doesn't match request audience")
            return _json(await self._user_out(conn, user))

    async def user_update(self, request: web.Request) -> web.Response:
        cfg = self.cfg
        claims = self._claims(request)
        p = await _read_params(request, "UserUpdateParams", {
            "email": str, "password": str, "nonce": str, "data": dict, "app_metadata": dict, "phone": str,
            "channel": str, "code_challenge": str, "code_challenge_method": str})
        async with self.pool.connection() as conn:
            user, session = await self._authenticate(conn, claims)
            aud = self._aud(request)
            email = p.get("email", "")
            if email:
                email = validation.validate_email(email)
            if p.get("phone"):
                validation.validate_phone(p["phone"])
                raise errors.unprocessable(errors.PHONE_PROVIDER_DISABLED,
                                           "Unable to update phone: no SMS provider is configured")
            password = p.get("password")
            if password is not None:
                self._check_password(password)
            if "app_metadata" in p and claims.get("role") not in cfg.jwt_admin_roles:
                raise errors.forbidden(errors.NOT_ADMIN, "Updating app_metadata requires admin privileges")
            if email and email != (user.get("email") or ""):
                if await store.email_taken(conn, email, aud, exclude=user["id"]):
                    raise errors.unprocessable(errors.EMAIL_EXISTS, errors.DUPLICATE_EMAIL_MESSAGE)
            new_hash = None
            if password is not None:
                if password and await self._verify(password, user.get("encrypted_password")):
                    raise errors.unprocessable(errors.SAME_PASSWORD,
                                               "New password should be different from the old password.")
                new_hash = await self._hash(password) if password else None
            async with conn.transaction():
                fields: dict[str, Any] = {}
                if password is not None:
                    fields["encrypted_password"] = new_hash
                    await store.delete_sessions_of_user(conn, user["id"],
                                                        except_session=str(session["id"]) if session else None)
                if p.get("data") is not None:
                    fields["raw_user_meta_data"] = serialize.merge_metadata(user.get("raw_user_meta_data"), p["data"])
                if p.get("app_metadata") is not None:
                    fields["raw_app_meta_data"] = serialize.merge_metadata(user.get("raw_app_meta_data"),
                                                                           p["app_metadata"])
                if email and email != (user.get("email") or ""):
                    # GoTrue mails a confirmation link to the new address; the change is pending
                    fields["email_change"] = email
                    fields["email_change_sent_at"] = store.utcnow()
                user = await store.update_user(conn, user["id"], **fields)
            return _json(await self._user_out(conn, user))

    async def logout(self, request: web.Request) -> web.Response:
        scope = request.query.get("scope", "")
        if scope not in ("", "global", "local", "others"):
            raise errors.bad_request(errors.VALIDATION_FAILED, f'Unsupported logout scope "{scope}"')
        claims = self._claims(request)
        async with self.pool.connection() as conn:
            user, session = await self._authenticate(conn, claims)
            async with conn.transaction():
                if session is not None and scope == "local":
                    await store.delete_session(conn, str(session["id"]))
                elif session is not None and scope == "others":
                    await store.delete_sessions_of_user(conn, user["id"], except_session=str(session["id"]))
                else:
                    await store.delete_sessions_of_user(conn, user["id"])
        return web.Response(status=204)

    # ---------------------------------------------------------------- admin endpoints

    _ADMIN_SPEC = {"id": str, "aud": str, "role": str, "email": str, "phone": str, "password": str,
                   "password_hash": str, "email_confirm": bool, "phone_confirm": bool, "user_metadata": dict,
                   "app_metadata": dict, "ban_duration": str}

    @staticmethod
    def _ban_until(value: str | None) -> tuple[bool, _dt.datetime | None]:
        if not value:
            return False, None
        if value == "none":
            return True, None
        try:
            seconds = parse_go_duration(value)
        except ValueError as e:
            raise errors.bad_request(errors.VALIDATION_FAILED, f"invalid format for ban duration: {e}") from None
        return True, (store.utcnow() + _dt.timedelta(seconds=seconds)) if seconds else None

    async def _load_user(self, conn: store.Conn, request: web.Request) -> dict[str, Any]:
        uid = validation.parse_uuid(request.match_info["user_id"])
        if uid is None:
            raise errors.not_found(errors.VALIDATION_FAILED, "user_id must be an UUID")
        user = await store.user_by_id(conn, uid)
        if user is None:
            raise errors.not_found(errors.USER_NOT_FOUND, "User not found")
        return user

    async def admin_list(self, request: web.Request) -> web.Response:
        self._require_admin(request)
        try:
            page = int(request.query.get("page") or 1)
            per_page = int(request.query.get("per_page") or 50)
        except ValueError as e:
            raise errors.bad_request(errors.VALIDATION_FAILED, f"Bad Pagination Parameters: {e}") from None
        page, per_page = max(page, 1), max(per_page, 1)
        aud = self._aud(request)
        async with self.pool.connection() as conn:
            rows, total = await store.list_users(conn, aud, page, per_page, request.query.get("filter", ""))
            ids = await store.identities_for(conn, [str(r["id"]) for r in rows])
        users = [serialize.user_json(r, ids.get(str(r["id"]), [])) for r in rows]
        base = self.cfg.external_url.rstrip("/") + "/admin/users"
        links = []
        if total > page * per_page:
            links.append(f'<{base}?{urlencode({"page": page + 1, "per_page": per_page})}>; rel="next"')
        last = max(1, (total + per_page - 1) // per_page)
        links.append(f'<{base}?{urlencode({"page": last, "per_page": per_page})}>; rel="last"')
        return _json({"users": users, "aud": aud},
                     headers={"X-Total-Count": str(total), "Link": ", ".join(links)})

    async def admin_get(self, request: web.Request) -> web.Response:
        self._require_admin(request)
        async with self.pool.connection() as conn:
            user = await self._load_user(conn, request)
            return _json(await self._user_out(conn, user))

    async def admin_create(self, request: web.Request) -> web.Response:
        cfg = self.cfg
        self._require_admin(request)
        p = await _read_params(request, "AdminUserParams", self._ADMIN_SPEC)
        aud = p.get("aud") or self._aud(request)
        email, phone = p.get("email", ""), p.get("phone", "")
        if not email and not phone:
            raise errors.bad_request(errors.VALIDATION_FAILED, "Cannot create a user without either an email or phone")
        providers: list[str] = []
        async with self.pool.connection() as conn:
            if email:
                email = validation.validate_email(email)
                if await store.email_taken(conn, email, aud):
                    raise errors.unprocessable(errors.EMAIL_EXISTS, errors.DUPLICATE_EMAIL_MESSAGE)
                providers.append("email")
            if phone:
                phone = validation.validate_phone(phone)
                if await store.phone_taken(conn, phone, aud):
                    raise errors.unprocessable(errors.PHONE_EXISTS, "Phone number already registered by another user")
                providers.append("phone")
            password, password_hash = p.get("password"), p.get("password_hash", "")
            if password is not None and password_hash:
                raise errors.bad_request(errors.VALIDATION_FAILED, "Only a password or a password hash should be provided")
            if password_hash:
                if not re.match(r"^\$2[aby]?\$\d\d\$[./A-Za-z0-9]{53}$", password_hash):
                    raise errors.bad_request(errors.VALIDATION_FAILED, "Invalid password hash")
                hashed = password_hash
            else:
                if not password:
                    password = passwords.random_password()
                if len(password.encode("utf-8")) > passwords.MAX_PASSWORD_LENGTH:
                    raise errors.bad_request(errors.VALIDATION_FAILED, "bcrypt: password length exceeds 72 bytes")
                hashed = await self._hash(password)
            user_id = uuid.uuid4()
            if p.get("id"):
                custom = validation.parse_uuid(p["id"])
                if custom is None:
                    raise errors.bad_request(errors.VALIDATION_FAILED, "ID must conform to the uuid v4 format")
                if str(custom) == _NIL_UUID:
                    raise errors.bad_request(errors.VALIDATION_FAILED, "ID cannot be a nil uuid")
                user_id = custom
            app_meta = serialize.merge_metadata({"provider": providers[0], "providers": providers},
                                                p.get("app_metadata") or {})
            user_meta = dict(p.get("user_metadata") or {})
            if p.get("email_confirm"):
                user_meta["email_verified"] = True
            _, banned_until = self._ban_until(p.get("ban_duration"))
            try:
                async with conn.transaction():
                    user = await store.insert_user(
                        conn, user_id=user_id, aud=aud, role=p.get("role") or cfg.jwt_default_group,
                        email=email or None, phone=phone or None, encrypted_password=hashed, app_metadata=app_meta,
                        user_metadata=user_meta, email_confirmed=bool(p.get("email_confirm")),
                        phone_confirmed=bool(p.get("phone_confirm")), banned_until=banned_until)
                    if email:
                        await store.insert_identity(conn, user_id=user_id, provider="email", provider_id=str(user_id),
                                                    data={"sub": str(user_id), "email": email,
                                                          "email_verified": False, "phone_verified": False})
                    if phone:
                        await store.insert_identity(conn, user_id=user_id, provider="phone", provider_id=str(user_id),
                                                    data={"sub": str(user_id), "phone": phone,
                                                          "email_verified": False, "phone_verified": False})
            except psycopg.errors.UniqueViolation:
                raise errors.unprocessable(errors.EMAIL_EXISTS, errors.DUPLICATE_EMAIL_MESSAGE) from None
            return _json(await self._user_out(conn, user))

    async def admin_update(self, request: web.Request) -> web.Response:
        self._require_admin(request)
        p = await _read_params(request, "AdminUserParams", self._ADMIN_SPEC)
        async with self.pool.connection() as conn:
            user = await self._load_user(conn, request)
            aud = user.get("aud") or self._aud(request)
            email = validation.validate_email(p["email"]) if p.get("email") else ""
            phone = validation.validate_phone(p["phone"]) if p.get("phone") else ""
            if email and email != (user.get("email") or "") and await store.email_taken(conn, email, aud,
                                                                                       exclude=user["id"]):
                raise errors.unprocessable(errors.EMAIL_EXISTS, errors.DUPLICATE_EMAIL_MESSAGE)
            if phone and phone != (user.get("phone") or "") and await store.phone_taken(conn, phone, aud,
                                                                                       exclude=user["id"]):
                raise errors.unprocessable(errors.PHONE_EXISTS, "Phone number already registered by another user")
            set_ban, banned_until = self._ban_until(p.get("ban_duration"))
            new_hash = None
            if p.get("password") is not None:
                self._check_password(p["password"])
                new_hash = await self._hash(p["password"])
            now = store.utcnow()
            fields: dict[str, Any] = {}
            async with conn.transaction():
                if p.get("role"):
                    fields["role"] = p["role"].strip()
                user_meta = user.get("raw_user_meta_data") or {}
                if p.get("email_confirm"):
                    fields["email_confirmed_at"] = now
                    user_meta = serialize.merge_metadata(user_meta, {"email_verified": True})
                    fields["raw_user_meta_data"] = user_meta
                if p.get("phone_confirm"):
                    fields["phone_confirmed_at"] = now
                if new_hash is not None:
                    fields["encrypted_password"] = new_hash
                    await store.delete_sessions_of_user(conn, user["id"])
                if email:
                    fields["email"] = email
                    await store.update_identity_data(conn, user["id"], "email",
                                                     {"email": email, "email_verified": bool(p.get("email_confirm"))})
                if phone:
                    fields["phone"] = phone
                if p.get("app_metadata") is not None:
                    fields["raw_app_meta_data"] = serialize.merge_metadata(user.get("raw_app_meta_data"),
                                                                           p["app_metadata"])
                if p.get("user_metadata") is not None:
                    fields["raw_user_meta_data"] = serialize.merge_metadata(user_meta, p["user_metadata"])
                if set_ban:
                    fields["banned_until"] = banned_until
                try:
                    user = await store.update_user(conn, user["id"], **fields)
                except psycopg.errors.UniqueViolation:
                    raise errors.unprocessable(errors.EMAIL_EXISTS, errors.DUPLICATE_EMAIL_MESSAGE) from None
            return _json(await self._user_out(conn, user))

    async def admin_delete(self, request: web.Request) -> web.Response:
        self._require_admin(request)
        p = await _read_params(request, "adminUserDeleteParams", {"should_soft_delete": bool}, optional=True)
        async with self.pool.connection() as conn:
            user = await self._load_user(conn, request)
            async with conn.transaction():
                if p.get("should_soft_delete"):
                    if user.get("deleted_at") is None:
                        await store.delete_sessions_of_user(conn, user["id"])
                        await conn.execute("DELETE FROM auth.identities WHERE user_id = %s", (str(user["id"]),))
                        await store.update_user(conn, user["id"], deleted_at=store.utcnow(), encrypted_password="",
                                                email=None, phone=None, raw_app_meta_data={},
                                                raw_user_meta_data={})
                else:
                    await store.delete_sessions_of_user(conn, user["id"])
                    await store.delete_user(conn, user["id"])
        return _json({})

    # ---------------------------------------------------------------- metrics

    async def metrics_handler(self, request: web.Request) -> web.Response:
        stamp, value = self._sessions_cache
        if time.monotonic() - stamp > 5.0:
            try:
                async with self.pool.connection(timeout=2.0) as conn:
                    value = await store.count_active_sessions(conn)
                self._sessions_cache = (time.monotonic(), value)
            except Exception:  # keep the last value; metrics must not fail with the DB
                pass
        self.metrics.active_sessions.set(value)
        return web.Response(body=self.metrics.render(),
                            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


def build_app(service: AuthService) -> web.Application:
    @web.middleware
    async def middleware(request: web.Request, handler):
        start = time.perf_counter()
        api_version = request.headers.get(errors.API_VERSION_HEADER)
        err_note = None
        try:
            try:
                resp = await handler(request)
            except web.HTTPRequestEntityTooLarge:
                raise errors.APIError(413, errors.REQUEST_TOO_LARGE, "Request body too large") from None
            except web.HTTPNotFound:
                raise errors.not_found(errors.NOT_FOUND, "Not Found") from None
            except web.HTTPMethodNotAllowed:
                raise errors.APIError(405, errors.UNKNOWN, "Method Not Allowed") from None
        except (errors.APIError, errors.OAuthError) as e:
            error_id = str(uuid.uuid4()) if e.status >= 500 else None
            body = errors.error_body(e, api_version, error_id)
            headers = {}
            if errors.uses_2024_format(api_version) and not isinstance(e, errors.OAuthError):
                headers[errors.API_VERSION_HEADER] = "2024-01-01"
            resp = _json(body, status=e.status, headers=headers)
            err_note = getattr(e, "error_code", None) or getattr(e, "error", None)
        except web.HTTPException:
            raise
        except Exception:
            error_id = str(uuid.uuid4())
            log.error(orjson.dumps({"level": "error", "msg": "unhandled error", "error_id": error_id,
                                    "path": request.path, "trace": traceback.format_exc()}).decode())
            resp = _json(errors.error_body(errors.internal(), api_version, error_id), status=500)
            err_note = errors.UNEXPECTED_FAILURE
        duration = time.perf_counter() - start
        service.metrics.http.observe_request(request, resp.status, duration)
        q = {k: request.query[k] for k in _LOGGED_QUERY if k in request.query}
        entry = {"level": "info", "component": "api", "method": request.method, "path": request.path,
                 "status": resp.status, "duration_ms": round(duration * 1000, 2), "remote_addr": _client_ip(request)}
        if q:
            entry["query"] = q
        if err_note:
            entry["error_code"] = err_note
        log.info(orjson.dumps(entry).decode())
        return resp

    app = web.Application(middlewares=[middleware], client_max_size=1024 * 1024)
    app[SERVICE_KEY] = service
    s = service
    app.router.add_get("/health", s.health)
    app.router.add_get("/settings", s.settings)
    app.router.add_get("/.well-known/jwks.json", s.jwks)
    app.router.add_post("/signup", s.signup)
    app.router.add_post("/token", s.token)
    app.router.add_get("/user", s.user_get)
    app.router.add_put("/user", s.user_update)
    app.router.add_post("/logout", s.logout)
    app.router.add_get("/admin/users", s.admin_list)
    app.router.add_post("/admin/users", s.admin_create)
    app.router.add_get("/admin/users/{user_id}", s.admin_get)
    app.router.add_put("/admin/users/{user_id}", s.admin_update)
    app.router.add_delete("/admin/users/{user_id}", s.admin_delete)
    return app


def build_metrics_app(service: AuthService) -> web.Application:
    app = web.Application()
    app.router.add_get("/metrics", service.metrics_handler)
    return app
