"""Marketplace adapters: `Adapters.build(settings, limiter).get_adapter("wb")` and the shared interface in base."""

from adolf.adapters.base import Card, CardContent, CardUpdate, MarketplaceAdapter, PublishResult
from adolf.adapters.registry import Adapters

__all__ = ["Adapters", "Card", "CardContent", "CardUpdate", "MarketplaceAdapter", "PublishResult"]
