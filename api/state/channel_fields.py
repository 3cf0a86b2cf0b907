"""The settings a chat channel takes (api.channels) and which of them are secrets: in the state layer so that
what knows a channel's secrets without running one (api.archive_state, carrying a KB's channels in its
archive) reads the same list the channels do."""
from __future__ import annotations

PLATFORMS = ("dingtalk", "wecom")
# per platform: setting -> whether it is a secret (kept server-side, shown masked, exported only when asked)
FIELDS = {"dingtalk": {"app_secret": True, "wait_s": False},
          "wecom": {"token": True, "aes_key": True, "corp_id": False, "corp_secret": True, "agent_id": False,
                    "wait_s": False}}
REQUIRED = {"dingtalk": ("app_secret",), "wecom": ("token", "aes_key", "corp_id")}


def secrets_of(platform: str) -> list[str]:
    return sorted(k for k, secret in FIELDS[platform].items() if secret)


def checked_settings(platform: str, config: dict) -> dict:
    """The stored form of a channel's settings, checked but for what only the platform's code can check (a
    WeCom AES key decoding: api.channels.store.validate); ValueError for what is missing or malformed."""
    if platform not in PLATFORMS:
        raise ValueError(f"platform must be one of {', '.join(PLATFORMS)}")
    fields = FIELDS[platform]
    out = {}
    for k, v in config.items():
        if v is None or k == "platform":
            continue
        if k not in fields:
            raise ValueError(f"{platform} takes no setting {k!r} (it takes {', '.join(fields)})")
        if k == "wait_s":
            v = float(v)
            if not 0 < v <= 60:
                raise ValueError("wait_s must be in (0, 60]")
        else:
            v = str(v).strip()
            if not v or len(v) > 512:
                raise ValueError(f"{k} must be 1 to 512 characters")
        out[k] = v
    missing = [k for k in REQUIRED[platform] if k not in out]
    if missing:
        raise ValueError(f"{platform} needs {', '.join(missing)}")
    if platform == "wecom" and ("corp_secret" in out) != ("agent_id" in out):
        raise ValueError("corp_secret and agent_id go together (both are needed to send answers later)")
    return out
