"""The Android driver: adb through adbutils, a pure planner, text input (ADBKeyboard for non-ASCII), emulators."""
