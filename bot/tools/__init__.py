"""Every tool Tandem has, registered once. Add a tool here and both modes can use it."""

from bot.tools.calendar_search import search_calendar
from bot.tools.clock import current_time
from bot.tools.registry import Tool, ToolInputError, ToolRegistry
from bot.tools.speak import speak
from bot.tools.weather import weather_forecast

TOOLS = ToolRegistry([search_calendar, weather_forecast, current_time, speak])

__all__ = ["TOOLS", "Tool", "ToolInputError", "ToolRegistry"]
