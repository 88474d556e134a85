"""Which package an ``open_app`` name means, and how to launch it.

Android has no shell command that prints an app's visible label (labels are
resources inside each APK), so a label is resolved, in this order, by:

1. the name itself when it is a package name (``com.android.settings``);
2. the user's own table (``AndroidSettings.app_labels``);
3. a built-in table of common apps, each with the packages different vendors use;
4. on a device, the launchable packages (``cmd package query-activities``, or
   ``pm list packages`` on old versions) whose name contains the label as one
   dotted part ("Chrome" -> ``com.android.chrome``).

Offline (CI replay, no package list) only steps 1-3 apply.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

from ...tools.errors import ActionParseError

PACKAGE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$")

LAUNCHABLE_QUERY = (
    "cmd package query-activities --brief -a android.intent.action.MAIN -c android.intent.category.LAUNCHER"
)
PACKAGES_QUERY = "pm list packages"

COMMON_APPS: Mapping[str, tuple[str, ...]] = {
    "settings": ("com.android.settings",),
    "设置": ("com.android.settings",),
    "chrome": ("com.android.chrome",),
    "browser": ("com.android.chrome", "com.android.browser", "com.sec.android.app.sbrowser"),
    "camera": (
        "com.android.camera2",
        "com.google.android.GoogleCamera",
        "com.android.camera",
        "com.sec.android.app.camera",
        "com.huawei.camera",
        "com.oplus.camera",
    ),
    "相机": ("com.android.camera", "com.huawei.camera", "com.oplus.camera", "com.android.camera2"),
    "clock": ("com.google.android.deskclock", "com.android.deskclock", "com.sec.android.app.clockpackage"),
    "calendar": ("com.google.android.calendar", "com.android.calendar", "com.samsung.android.calendar"),
    "contacts": ("com.google.android.contacts", "com.android.contacts", "com.samsung.android.app.contacts"),
    "phone": ("com.google.android.dialer", "com.android.dialer", "com.samsung.android.dialer"),
    "messages": ("com.google.android.apps.messaging", "com.android.mms", "com.samsung.android.messaging"),
    "calculator": ("com.google.android.calculator", "com.android.calculator2", "com.sec.android.app.popupcalculator"),
    "files": ("com.google.android.apps.nbu.files", "com.google.android.documentsui", "com.android.documentsui"),
    "photos": ("com.google.android.apps.photos",),
    "gallery": (
        "com.google.android.apps.photos",
        "com.android.gallery3d",
        "com.sec.android.gallery3d",
        "com.miui.gallery",
    ),
    "gmail": ("com.google.android.gm",),
    "maps": ("com.google.android.apps.maps",),
    "google maps": ("com.google.android.apps.maps",),
    "youtube": ("com.google.android.youtube",),
    "play store": ("com.android.vending",),
    "google play": ("com.android.vending",),
    "微信": ("com.tencent.mm",),
    "wechat": ("com.tencent.mm",),
    "qq": ("com.tencent.mobileqq",),
    "支付宝": ("com.eg.android.AlipayGphone",),
    "alipay": ("com.eg.android.AlipayGphone",),
    "淘宝": ("com.taobao.taobao",),
    "taobao": ("com.taobao.taobao",),
    "京东": ("com.jingdong.app.mall",),
    "抖音": ("com.ss.android.ugc.aweme",),
    "哔哩哔哩": ("tv.danmaku.bili",),
    "bilibili": ("tv.danmaku.bili",),
    "小红书": ("com.xingin.xhs",),
    "微博": ("com.sina.weibo",),
    "美团": ("com.sankuai.meituan",),
    "高德地图": ("com.autonavi.minimap",),
    "百度地图": ("com.baidu.BaiduMap",),
    "携程": ("ctrip.android.view",),
    "携程旅行": ("ctrip.android.view",),
    "12306": ("com.MobileTicket",),
    "铁路12306": ("com.MobileTicket",),
}


def launch_command(package: str) -> str:
    """Start ``package``'s launcher activity without knowing its class name."""
    return f"monkey -p {package} -c android.intent.category.LAUNCHER 1"


def parse_launchable(output: str) -> tuple[str, ...]:
    """Packages from ``cmd package query-activities --brief`` (component lines) or ``pm list packages``."""
    packages: dict[str, None] = {}
    for line in output.splitlines():
        line = line.strip()
        if line.startswith("package:"):
            candidate = line.removeprefix("package:").split("=")[-1]
        elif "/" in line and " " not in line:
            candidate = line.split("/", 1)[0]
        else:
            continue
        if PACKAGE_NAME.match(candidate):
            packages[candidate] = None
    return tuple(packages)


def resolve_package(name: str, user_labels: Mapping[str, str], installed: Collection[str] | None) -> str:
    """The package ``name`` (a package or a visible label) stands for, or ActionParseError."""
    name = name.strip()
    if PACKAGE_NAME.match(name):
        _require_installed(name, installed)
        return name
    key = _label_key(name)
    candidates = _tables(user_labels).get(key, ())
    if installed is None:
        if candidates:
            return candidates[0]
        raise _unknown(name, installed)
    for package in candidates:
        if package in installed:
            return package
    matches = _packages_named(key, installed)
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise ActionParseError(
            f"the app name {name!r} matches several packages: {', '.join(matches)}",
            expected="open_app with one of those package names",
        )
    raise _unknown(name, installed)


def _label_key(label: str) -> str:
    return " ".join(label.casefold().split())


def _tables(user_labels: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    user = {_label_key(label): (package,) for label, package in user_labels.items()}
    return {**COMMON_APPS, **user}


def _packages_named(key: str, installed: Collection[str]) -> list[str]:
    """Packages with a dotted part equal to the label with spaces and punctuation removed."""
    squashed = re.sub(r"[\W_]+", "", key)
    if not squashed:
        return []
    return sorted(package for package in installed if squashed in (part.casefold() for part in package.split(".")))


def _require_installed(package: str, installed: Collection[str] | None) -> None:
    if installed is not None and package not in installed:
        raise ActionParseError(
            f"the package {package!r} is not installed (or has no launcher activity)",
            expected="open_app with an installed app: " + _sample(installed),
        )


def _unknown(name: str, installed: Collection[str] | None) -> ActionParseError:
    known = f"launchable packages: {_sample(installed)}" if installed else "a package name such as com.android.settings"
    return ActionParseError(f"no app called {name!r} is known", expected=f"open_app with {known}")


def _sample(installed: Collection[str], limit: int = 40) -> str:
    names = sorted(installed)
    more = f" (and {len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more
