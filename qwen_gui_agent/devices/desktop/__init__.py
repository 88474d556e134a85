"""The desktop driver: mss captures, a pure planner, and two executors (pyautogui on $DISPLAY, xdotool on another display)."""
