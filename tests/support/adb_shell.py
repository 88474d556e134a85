"""The device side of the loopback adb server: a virtual phone and its shell.

``VirtualPhone.run`` plays ``sh -c COMMAND`` on a phone: it splits the command
line the way the device shell does (quotes, backslashes) and refuses any
shell syntax it does not emulate (unquoted ``; & | < > ( ) $ ` * ? [ {``), so a
quoting mistake in a driver shows up as an error instead of passing by. Then
it plays the programs a GUI driver uses (input, screencap, wm, dumpsys, ime,
settings, am, monkey, cmd package, pm, getprop) against a PIL screen, a
focused text field and an event log. It is stricter than a real phone where
a real phone would silently lose input (``input text`` with two arguments).
"""

from __future__ import annotations

import base64
import io
import struct
import threading
from collections.abc import Callable

from PIL import Image, ImageDraw

LATIN_IME = "com.google.android.inputmethod.latin/com.android.inputmethod.latin.LatinIME"
ADB_KEYBOARD = "com.android.adbkeyboard/.AdbIME"

DEFAULT_PACKAGES = {
    "com.android.settings": ".Settings",
    "com.android.chrome": "com.google.android.apps.chrome.Main",
    "com.google.android.deskclock": "com.android.deskclock.DeskClock",
    "com.example.notes": ".MainActivity",
}

_UNEMULATED = set(";&|<>()$`*?[{\n")


class ShellSyntaxError(ValueError):
    """Command text the fake shell will not guess at."""


def sh_split(command: str) -> list[str]:
    """Split a command line into words as the device shell would, or ShellSyntaxError."""
    words: list[str] = []
    word: list[str] = []
    in_word = False
    index = 0
    while index < len(command):
        char = command[index]
        if char in " \t":
            if in_word:
                words.append("".join(word))
                word, in_word = [], False
            index += 1
        elif char == "'":
            end = command.find("'", index + 1)
            if end < 0:
                raise ShellSyntaxError("unterminated single quote")
            word.append(command[index + 1 : end])
            in_word, index = True, end + 1
        elif char == '"':
            text, index = _double_quoted(command, index + 1)
            word.append(text)
            in_word = True
        elif char == "\\":
            if index + 1 >= len(command):
                raise ShellSyntaxError("trailing backslash")
            word.append(command[index + 1])
            in_word, index = True, index + 2
        elif char in _UNEMULATED or (char in "#~" and not in_word):
            raise ShellSyntaxError(f"unquoted {char!r} is shell syntax")
        else:
            word.append(char)
            in_word, index = True, index + 1
    if in_word:
        words.append("".join(word))
    return words


def _double_quoted(command: str, index: int) -> tuple[str, int]:
    text: list[str] = []
    while index < len(command):
        char = command[index]
        if char == '"':
            return "".join(text), index + 1
        if char in "$`":
            raise ShellSyntaxError(f"{char!r} inside double quotes is expansion")
        if char == "\\" and index + 1 < len(command) and command[index + 1] in '$`"\\':
            text.append(command[index + 1])
            index += 2
            continue
        text.append(char)
        index += 1
    raise ShellSyntaxError("unterminated double quote")


def input_percent_s(text: str) -> str:
    """What Android's ``input text`` does to its argument: each ``%s`` becomes a space."""
    out: list[str] = []
    after_percent = False
    for char in text:
        if after_percent and char == "s":
            out[-1] = " "
            after_percent = False
            continue
        out.append(char)
        after_percent = char == "%"
    return "".join(out)


def pattern_screen(size: tuple[int, int]) -> Image.Image:
    """A screen that is not black and not uniform: a colour per quadrant."""
    width, height = size
    image = Image.new("RGB", size, (30, 60, 120))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width // 2 - 1, height // 2 - 1), fill=(200, 40, 40))
    draw.rectangle((width // 2, height // 2, width - 1, height - 1), fill=(40, 200, 90))
    return image


class VirtualPhone:
    """One emulated device: state the tests set up and inspect."""

    def __init__(
        self,
        serial: str = "emulator-5554",
        *,
        model: str = "Pixel_7",
        size: tuple[int, int] = (360, 800),
        state: str = "device",
    ) -> None:
        self.serial = serial
        self.model = model
        self.state = state
        self.natural_size = size  # portrait px, what `wm size` reports
        self.rotation = 0
        self.screen: Image.Image = pattern_screen(size)  # what screencap returns, current orientation
        self.raw_header = 16  # 12: before Android 9; 16: with the colour-space word
        self.pixel_format = 1  # RGBA_8888
        self.raw_capture_broken = False  # raw screencap returns junk (PNG still works)
        self.props = {
            "ro.product.model": model,
            "ro.build.version.release": "14",
            "ro.build.version.sdk": "34",
            "sys.boot_completed": "1",
        }
        self.packages = dict(DEFAULT_PACKAGES)
        self.imes_installed = [LATIN_IME, ADB_KEYBOARD]
        self.imes_enabled = {LATIN_IME}
        self.current_ime = LATIN_IME
        self.supports_keycombination = True
        self.broadcast_fails = False
        self.offline_selections = 0  # the next N transport selections answer "device offline"
        self.resets_after_run = 0  # the next N commands run, then the link resets before the output is sent
        self.text = ""  # the focused text field
        self.foreground = "com.google.android.apps.nexuslauncher"
        self.events: list[tuple[object, ...]] = []
        self.commands: list[str] = []  # every shell/exec command line, in order
        self._lock = threading.Lock()

    def set_rotation(self, rotation: int) -> None:
        """Turn the phone; the screen image turns with it."""
        if (rotation - self.rotation) % 2:
            self.screen = self.screen.rotate(90, expand=True)
        self.rotation = rotation % 4

    # --- the shell -----------------------------------------------------------------------------------------

    def run(self, command: str) -> bytes:
        with self._lock:
            self.commands.append(command)
            try:
                argv = sh_split(command)
            except ShellSyntaxError as error:
                return f"/system/bin/sh: syntax error: {error}\n".encode()
            if not argv:
                return b""
            program = self._programs().get(argv[0])
            if program is None:
                return f"/system/bin/sh: {argv[0]}: inaccessible or not found\n".encode()
            result = program(argv[1:])
            return result if isinstance(result, bytes) else result.encode()

    def _programs(self) -> dict[str, Callable[[list[str]], str | bytes]]:
        return {
            "input": self._input,
            "screencap": self._screencap,
            "wm": self._wm,
            "dumpsys": self._dumpsys,
            "getprop": self._getprop,
            "settings": self._settings,
            "ime": self._ime,
            "am": self._am,
            "monkey": self._monkey,
            "cmd": self._cmd,
            "pm": self._pm,
        }

    def _input(self, args: list[str]) -> str:
        if not args:
            return "Usage: input [<source>] <command> [<arg>...]\n"
        command, rest = args[0], args[1:]
        if command == "text":
            if len(rest) != 1:
                return f"fake adb: input text takes exactly one argument, got {rest!r}\n"
            typed = input_percent_s(rest[0])
            if not all(" " <= char <= "~" for char in typed):
                return "Exception occurred while executing 'text': no key events for the characters\n"
            self.text += typed
            self.events.append(("text", typed))
            return ""
        if command == "keyevent":
            for key in rest:
                self._key(key)
            return "" if rest else "Error: keyevent needs a key code\n"
        if command == "keycombination" and self.supports_keycombination:
            self.events.append(("keycombination", *rest))
            return ""
        numeric = {"tap": 2, "swipe": (4, 5), "draganddrop": (4, 5)}
        if command in numeric:
            counts = numeric[command] if isinstance(numeric[command], tuple) else (numeric[command],)
            if len(rest) not in counts or not all(part.lstrip("-").isdigit() for part in rest):
                return f"Exception occurred while executing '{command}': bad arguments {rest!r}\n"
            self.events.append((command, *map(int, rest)))
            return ""
        return f"Error: Unknown command: {command}\nUsage: input [<source>] <command> [<arg>...]\n"

    def _key(self, key: str) -> None:
        name = key.removeprefix("KEYCODE_")
        effects = {"ENTER": "\n", "66": "\n", "TAB": "\t", "61": "\t", "SPACE": " ", "62": " "}
        if name in effects:
            self.text += effects[name]
        elif name in ("DEL", "67"):
            self.text = self.text[:-1]
        elif name in ("HOME", "3"):
            self.foreground = "com.google.android.apps.nexuslauncher"
        self.events.append(("key", key))

    def _screencap(self, args: list[str]) -> bytes:
        if args == ["-p"]:
            buffer = io.BytesIO()
            self.screen.save(buffer, format="PNG")
            return buffer.getvalue()
        if args:
            return b"usage: screencap [-hp] [-d display-id] [FILENAME]\n"
        if self.raw_capture_broken:
            return b"\x00\x01junk"
        width, height = self.screen.size
        pixels = self.screen.convert("RGBA").tobytes() if self.pixel_format == 1 else self.screen.tobytes()
        header = struct.pack("<III", width, height, self.pixel_format)
        if self.raw_header == 16:
            header += struct.pack("<I", 1)  # sRGB
        return header + pixels

    def _wm(self, args: list[str]) -> str:
        if args == ["size"]:
            width, height = self.natural_size
            return f"Physical size: {width}x{height}\n"
        return f"fake adb: wm {' '.join(args)} is not emulated\n"

    def _dumpsys(self, args: list[str]) -> str:
        if args == ["input"]:
            return (
                "INPUT MANAGER (dumpsys input)\n\nInput Manager State:\n  Interactive: true\n"
                f"  Viewport INTERNAL: displayId=0, orientation={self.rotation}, logicalFrame=[0, 0, 1, 1]\n"
                f"    Device 5: virtio_input_multi_touch_7\n      SurfaceOrientation: {self.rotation}\n"
            )
        return ""

    def _getprop(self, args: list[str]) -> str:
        if not args:
            return "".join(f"[{name}]: [{value}]\n" for name, value in self.props.items())
        return self.props.get(args[0], "") + "\n"

    def _settings(self, args: list[str]) -> str:
        if args == ["get", "secure", "default_input_method"]:
            return f"{self.current_ime}\n"
        return f"fake adb: settings {' '.join(args)} is not emulated\n"

    def _ime(self, args: list[str]) -> str:
        if args == ["list", "-s"]:
            return "".join(f"{ime}\n" for ime in self.imes_installed if ime in self.imes_enabled)
        if args == ["list", "-a", "-s"]:
            return "".join(f"{ime}\n" for ime in self.imes_installed)
        if len(args) != 2 or args[0] not in ("enable", "disable", "set"):
            return f"fake adb: ime {' '.join(args)} is not emulated\n"
        verb, ime = args
        if ime not in self.imes_installed or (verb == "set" and ime not in self.imes_enabled):
            done = {"enable": "enabled", "disable": "disabled", "set": "selected"}[verb]
            return f"Unknown input method {ime} cannot be {done} for user #0\n"
        if verb == "enable":
            self.imes_enabled.add(ime)
            return f"Input method {ime}: now enabled for user #0\n"
        if verb == "disable":
            self.imes_enabled.discard(ime)
            if self.current_ime == ime:
                self.current_ime = next(iter(sorted(self.imes_enabled)), "null")
            return f"Input method {ime}: now disabled for user #0\n"
        self.current_ime = ime
        self.events.append(("ime", ime))
        return f"Input method {ime} selected for user #0\n"

    def _am(self, args: list[str]) -> str:
        if len(args) != 6 or args[:4] != ["broadcast", "-a", "ADB_INPUT_B64", "--es"] or args[4] != "msg":
            return f"fake adb: am {' '.join(args)} is not emulated\n"
        if self.broadcast_fails:
            return "Exception occurred while executing 'broadcast': java.lang.SecurityException\n"
        if self.current_ime == ADB_KEYBOARD:  # only the active IME's receiver is running
            decoded = base64.b64decode(args[5], validate=True).decode("utf-8")
            self.text += decoded
            self.events.append(("ime_text", decoded))
        return "Broadcasting: Intent { act=ADB_INPUT_B64 flg=0x400000 (has extras) }\nBroadcast completed: result=0\n"

    def _monkey(self, args: list[str]) -> str:
        if len(args) != 5 or args[0] != "-p" or args[2:] != ["-c", "android.intent.category.LAUNCHER", "1"]:
            return f"fake adb: monkey {' '.join(args)} is not emulated\n"
        if args[1] not in self.packages:
            return "  bash arg: -p\n** No activities found to run, monkey aborted.\n"
        self.foreground = args[1]
        self.events.append(("launch", args[1]))
        return "  bash arg: -p\nEvents injected: 1\n## Network stats: elapsed time=12ms\n"

    def _cmd(self, args: list[str]) -> str:
        if args[:3] == ["package", "query-activities", "--brief"] and "android.intent.category.LAUNCHER" in args:
            return "".join(
                f"priority=0 preferredOrder=0 match=0x108000 specificIndex=-1 isDefault=true\n  {package}/{activity}\n"
                for package, activity in self.packages.items()
            )
        return f"fake adb: cmd {' '.join(args)} is not emulated\n"

    def _pm(self, args: list[str]) -> str:
        if args == ["list", "packages"]:
            return "".join(f"package:{package}\n" for package in self.packages)
        return f"fake adb: pm {' '.join(args)} is not emulated\n"
