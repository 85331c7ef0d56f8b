"""Whether the Hugging Face hub can be reached, found out in seconds, and the cache when not.

``from_pretrained`` with a hub id asks the hub first and retries each file with backoff
(1 + 2 + 4 + 8 + 8 s) before it falls back to the local cache: without network a cached
model took minutes to load, and a model that is not cached failed after 25 s of "Retrying
in Ns" lines. So before loading a hub id xalign sends one HEAD request, without retries,
bounded by ``XALIGN_HUB_TIMEOUT`` seconds (default 3); the answer is kept for the process.
When the hub does not answer (or answers with a server error):

* a model in the local cache (``HF_HUB_CACHE``) is loaded from there, in offline mode, with
  one line on stderr that says so;
* a model that is not cached fails at once with one line that says how to get a copy.

``HF_HUB_OFFLINE=1`` skips the check, as it skips every request.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from align_cli.errors import ModelError

TIMEOUT_ENV = "XALIGN_HUB_TIMEOUT"
DEFAULT_TIMEOUT = 3.0

# Endpoint -> None (it answered) or why it cannot be reached.
_reachability: dict[str, str | None] = {}


def probe_timeout() -> float:
    """Seconds the reachability check may take (``XALIGN_HUB_TIMEOUT``, default 3)."""
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 600:
        raise ModelError(
            f"{TIMEOUT_ENV}={text!r} is not a number of seconds between 0 and 600; "
            f"unset it for the default of {DEFAULT_TIMEOUT:g}"
        )
    return value


def _brief(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = lines[0] if lines else type(error).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def unreachable_reason(repo_id: str, revision: str | None) -> str | None:
    """``None`` when the hub answers; otherwise why it cannot be reached (one phrase)."""
    from huggingface_hub import constants, get_session, hf_hub_url

    timeout = probe_timeout()
    try:
        # The address from_pretrained asks first (HF_ENDPOINT decides where it points).
        url = hf_hub_url(repo_id, "config.json", revision=revision)
    except Exception:  # a name the hub would refuse: ask its front page instead
        url = constants.ENDPOINT + "/"
    parts = urlsplit(url)
    endpoint = f"{parts.scheme}://{parts.netloc}"
    if endpoint in _reachability:
        return _reachability[endpoint]
    outcome: list[str | None] = []

    def ask() -> None:
        # Any answer means the hub is there (401 and 404 included: from_pretrained then
        # says what is wrong); a server error would make from_pretrained retry for minutes.
        try:
            response = get_session().head(url, timeout=timeout, follow_redirects=False)
        except Exception as error:  # connection refused, DNS, TLS, proxy, timeout...
            outcome.append(f"{endpoint}: {_brief(error)}")
            return
        if response.status_code >= 500:
            outcome.append(f"{endpoint} answered HTTP {response.status_code}")
        else:
            outcome.append(None)

    # A thread, so that nothing (a name lookup that hangs, a proxy) takes longer than the
    # timeout; a request still hanging after it is abandoned with its daemon thread.
    thread = threading.Thread(target=ask, name="xalign-hub-check", daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    reason = outcome[0] if outcome else f"no answer from {endpoint} within {timeout:g} s"
    _reachability[endpoint] = reason
    return reason


def cached_snapshot(repo_id: str, revision: str | None) -> Path | None:
    """The folder of ``repo_id``'s cached snapshot at ``revision`` (holding a config.json),
    or ``None`` when the local cache has none."""
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(repo_id, "config.json", revision=revision)
    except Exception:  # an invalid repo id or revision: nothing of it can be cached
        return None
    return Path(found).parent if isinstance(found, str) else None


@contextmanager
def offline() -> Iterator[None]:
    """huggingface_hub's offline mode (what ``HF_HUB_OFFLINE=1`` sets) for the block."""
    from huggingface_hub import constants

    previous = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = previous


def offline_by_user() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def cache_folder() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)
