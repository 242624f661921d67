"""Flows: direction-independent conversation keys and the conversation table (pure)."""

from __future__ import annotations

from .table import ConversationTable as ConversationTable
from .table import Flow as Flow
from .table import flow_record as flow_record

__all__ = ["ConversationTable", "Flow", "flow_record"]
