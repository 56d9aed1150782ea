"""AWS clients per account: the engine's own, or a cross-account role assumed with STS.

Assumed-role credentials are botocore ``RefreshableCredentials`` whose refresh function assumes
the role again and whose notion of "now" (and of the expiry) is the Gauntlet clock, so a long
execution (real or virtual) refreshes them before they expire, and the clients built on them keep working. The
engine also calls :meth:`AccountContext.refresh_if_needed` before each batch of calls, so a
refresh failure surfaces at a known point with the role ARN in the message.
"""

from __future__ import annotations

import datetime
import email.utils
import logging
from typing import Callable, Dict, Optional

import boto3
import botocore.loaders
import botocore.session
from botocore.credentials import RefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError

from gauntlet.clock import Clock, default_clock
from gauntlet.sut.drs_engine.retry import RETRY_CONFIG, describe_error, use_clock_for_backoff

log = logging.getLogger(__name__)
DEFAULT_REGION = "us-east-1"
# botocore's service models are large JSON files, cached per loader: share one loader so every
# engine (and every warm Lambda invocation) parses each model once.
_LOADER = botocore.loaders.create_loader()


def _botocore_session() -> botocore.session.Session:
    session = botocore.session.Session()
    session.register_component("data_loader", _LOADER)
    return session


class CrossAccountError(RuntimeError):
    """The cross-account role could not be assumed; the message names the role and the reason."""

    def __init__(self, role_arn: str, reason: str) -> None:
        super().__init__(f"cannot assume cross-account role {role_arn}: {reason}")
        self.role_arn = role_arn
        self.reason = reason


class _CredentialSource:
    """The smallest credential provider a botocore session accepts."""

    def __init__(self, credentials) -> None:
        self._credentials = credentials

    def load_credentials(self):
        return self._credentials


class AccountContext:
    """Clients for one account and region, all with the engine's retry policy."""

    def __init__(self, session: boto3.Session, region: str, clock: Callable[[], Clock],
                 account_id: str = "", role_arn: str = "", credentials=None) -> None:
        self.session = session
        self.region = region
        self.role_arn = role_arn
        self.credentials = credentials
        self._clock = clock
        self._account_id = account_id
        self._clients: Dict[str, object] = {}

    def client(self, service: str):
        """A cached client; tests may attach a ``botocore.stub.Stubber`` to it."""
        if service not in self._clients:
            client = self.session.client(service, region_name=self.region, config=RETRY_CONFIG)
            self._clients[service] = use_clock_for_backoff(client, self._clock)
        return self._clients[service]

    @property
    def account_id(self) -> str:
        if not self._account_id:
            self._account_id = self.client("sts").get_caller_identity()["Account"]
        return self._account_id

    def refresh_if_needed(self) -> None:
        """Refresh assumed-role credentials if they are close to expiry (no-op otherwise)."""
        if self.credentials is not None:
            self.credentials.get_frozen_credentials()


class Accounts:
    """Builds and caches :class:`AccountContext` objects for the engine's home account and roles."""

    def __init__(self, region: Optional[str] = None, clock: Callable[[], Clock] = default_clock,
                 session_seconds: int = 3600, session_name: str = "gauntlet-drs-engine") -> None:
        session = boto3.Session(botocore_session=_botocore_session(), region_name=region)
        self.region = region or session.region_name or DEFAULT_REGION
        self._session = session
        self._clock = clock
        self.session_seconds = session_seconds
        self.session_name = session_name
        self._home: Optional[AccountContext] = None
        self._targets: Dict[str, AccountContext] = {}
        self.assume_calls: Dict[str, int] = {}

    def home(self) -> AccountContext:
        if self._home is None:
            self._home = AccountContext(self._session, self.region, self._clock)
        return self._home

    def target(self, role_arn: str, account_id: str = "") -> AccountContext:
        """Clients in the account of ``role_arn``; assumes the role now (raises CrossAccountError)."""
        if role_arn not in self._targets:
            first = self._assume(role_arn)
            credentials = RefreshableCredentials(
                access_key=first["access_key"], secret_key=first["secret_key"], token=first["token"],
                expiry_time=datetime.datetime.fromisoformat(first["expiry_time"]),
                refresh_using=lambda: self._assume(role_arn), method="gauntlet-assume-role",
                time_fetcher=self._now, account_id=first["account_id"])
            core = _botocore_session()
            core.register_component("credential_provider", _CredentialSource(credentials))
            session = boto3.Session(botocore_session=core, region_name=self.region)
            self._targets[role_arn] = AccountContext(session, self.region, self._clock,
                                                     account_id or first["account_id"], role_arn,
                                                     credentials)
        return self._targets[role_arn]

    def for_plan(self, plan) -> AccountContext:
        if plan.cross_account_role_arn:
            return self.target(plan.cross_account_role_arn, plan.target_account_id)
        return self.home()

    def _now(self) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(self._clock().wall(), tz=datetime.timezone.utc)

    def _lifetime(self, response: dict) -> float:
        """Seconds the credentials are valid: Expiration minus the response's Date header.

        Expiry is then kept on the Gauntlet clock (now + lifetime): identical to Expiration on
        a real clock, immune to local clock skew, and consistent under a virtual clock.
        """
        expiration = response["Credentials"]["Expiration"]
        if isinstance(expiration, str):
            expiration = datetime.datetime.fromisoformat(expiration.replace("Z", "+00:00"))
        issued = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
        if not issued:
            return float(self.session_seconds)
        issued_at = email.utils.parsedate_to_datetime(issued)
        return max(0.0, (expiration - issued_at).total_seconds())

    def _assume(self, role_arn: str) -> dict:
        self.assume_calls[role_arn] = self.assume_calls.get(role_arn, 0) + 1
        try:
            response = self.home().client("sts").assume_role(
                RoleArn=role_arn, RoleSessionName=self.session_name,
                DurationSeconds=self.session_seconds)
        except (ClientError, BotoCoreError) as error:
            raise CrossAccountError(role_arn, describe_error(error)) from error
        credentials = response["Credentials"]
        expiry = self._now() + datetime.timedelta(seconds=self._lifetime(response))
        log.info("assumed %s until %s (clock time)", role_arn, expiry.isoformat())
        return {
            "access_key": credentials["AccessKeyId"],
            "secret_key": credentials["SecretAccessKey"],
            "token": credentials["SessionToken"],
            "expiry_time": expiry.isoformat(),
            "account_id": response.get("AssumedRoleUser", {}).get("Arn", "::::").split(":")[4],
        }
