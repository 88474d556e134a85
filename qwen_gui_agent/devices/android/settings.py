"""Configuration of the Android driver, as one frozen object.

Every knob has a default that works with a stock adb server on this machine;
the CLI builds an ``AndroidSettings`` from its flags and the environment
(ANDROID_ADB_SERVER_ADDRESS/PORT, ANDROID_SERIAL, ANDROID_HOME). Nothing in the
driver reads the environment itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ADB_KEYBOARD_IME = "com.android.adbkeyboard/.AdbIME"
ADB_KEYBOARD_APK_URL = "https://github.com/senzhk/ADBKeyBoard/releases"


class AndroidSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Where the adb server listens (adb's own defaults).
    adb_host: str = "127.0.0.1"
    adb_port: int = Field(default=5037, ge=1, le=65535)
    serial: str | None = Field(default=None, description="device serial or HOST:PORT; None = the only device")

    # Timeouts and the retry policy for transient adb failures.
    connect_timeout_s: float = Field(default=10.0, gt=0, description="adb connect HOST:PORT")
    command_timeout_s: float = Field(default=30.0, gt=0, description="one shell/exec command")
    retries: int = Field(default=3, ge=0, le=20, description="extra attempts after a transient failure")
    retry_backoff_s: float = Field(default=0.5, ge=0, description="first wait; doubles each retry")
    retry_backoff_max_s: float = Field(default=5.0, ge=0)

    # Screenshots: raw framebuffer bytes are fastest over USB; PNG is smaller on slow links.
    screencap: Literal["raw", "png"] = "raw"

    # Text input through the ADBKeyboard IME (any Unicode).
    adb_keyboard_ime: str = ADB_KEYBOARD_IME
    ime_settle_s: float = Field(default=0.3, ge=0, description="pause after switching IME so it binds")

    # Gestures.
    scroll_duration_s: float = Field(default=0.4, gt=0, le=10)
    scroll_fraction_per_unit: float = Field(
        default=0.1, gt=0, le=1, description="finger travel per scroll amount unit, as a fraction of the screen"
    )
    max_scroll_fraction: float = Field(default=0.8, gt=0, le=0.95, description="longest scroll swipe")

    # App labels the user wants resolved to packages ("Bank" -> "com.example.bank"); looked up
    # before the built-in table, case-insensitively.
    app_labels: dict[str, str] = Field(default_factory=dict)

    # Emulator support.
    sdk_root: Path | None = Field(default=None, description="Android SDK (ANDROID_HOME); None = no emulator")
    emulator_boot_timeout_s: float = Field(default=300.0, gt=0)
    emulator_args: tuple[str, ...] = ("-no-window", "-no-audio", "-no-boot-anim")
