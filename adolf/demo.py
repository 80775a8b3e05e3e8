"""`adolf demo`: what the run command shows a newcomer, against the local marketplace simulator only.

It seeds cards in the simulator and approved drafts in PostgreSQL, then, through the typed client and a running
worker: publishes every draft, the cards of each marketplace together in one request (the Ozon request meets a
transient 500 and its cards are retried by their jobs; WB refuses one card, which fails alone while the others are
sent again, and after the simulator stops refusing it the card is retried by hand with retry_publication), and
finally verifies them all with sync_publication_status.
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import aiohttp
import asyncpg

from adolf.client import AdolfClient
from adolf.db.pool import create_pool
from adolf.db.repositories.drafts import DraftRepository
from adolf.db.repositories.generations import GenerationRepository
from adolf.db.repositories.publications import PublicationRepository
from adolf.demo_scout import run_scout_demo
from adolf.models.content import Marketplace
from adolf.settings import Settings

DEMO_USER = UUID("00000000-0000-4000-8000-00000000d3e0")
RESULT_TIMEOUT = 120.0


@dataclass(frozen=True)
class DemoCard:
    marketplace: Marketplace
    sku: str
    title: str
    description: str
    seo_tags: tuple[str, ...] = ()


CARDS = (
    DemoCard(
        Marketplace.WB,
        "DEMO-WB-1",
        "Кружка керамическая 350 мл белая",
        "Керамическая кружка для чая и кофе. Объём 350 мл, можно мыть в посудомоечной машине.",
    ),
    DemoCard(
        Marketplace.WB,
        "DEMO-WB-2",
        "Чайник заварочный стеклянный 600 мл",
        "Стеклянный заварочный чайник с ситечком из нержавеющей стали.",
    ),
    DemoCard(
        Marketplace.WB,
        "DEMO-WB-3",
        "Набор бокалов для вина 4 шт",
        "Четыре бокала из прозрачного стекла, 450 мл каждый.",
    ),
    DemoCard(Marketplace.OZON, "DEMO-OZ-1", "Термос стальной 1 л", "Держит тепло 24 часа.", ("термос", "для походов")),
    DemoCard(Marketplace.OZON, "DEMO-OZ-2", "Френч-пресс 800 мл", "Кофе и чай за 4 минуты.", ("френч пресс",)),
    DemoCard(Marketplace.YM, "DEMO-YM-1", "Кофемолка ручная керамическая", "Керамические жернова, 12 степеней помола."),
)
TRANSIENT = {"kind": "server_error", "marketplace": "ozon", "sku": "DEMO-OZ-2", "path_contains": "import", "times": 1}
REFUSED = {"kind": "validation", "marketplace": "wb", "sku": "DEMO-WB-3", "path_contains": "update", "times": 0}


class NotTheSimulator(RuntimeError):
    """The demo only ever talks to a simulator on this machine."""


def sandbox_url(settings: Settings) -> str:
    host = urlsplit(settings.wb_content_url).hostname or ""
    try:
        local = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = False
    if not local:
        raise NotTheSimulator(f"ADOLF_WB_CONTENT_URL={settings.wb_content_url} is not the local simulator")
    return settings.wb_content_url.rstrip("/")


async def _control(http: aiohttp.ClientSession, base: str, method: str, path: str, body: Any = None) -> Any:
    async with http.request(method, f"{base}/__sandbox{path}", json=body) as response:
        response.raise_for_status()
        return await response.json()


async def seed_marketplaces(base: str) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        for marketplace in Marketplace:
            cards = [
                {"sku": c.sku, "title": "Товар", "description": "Описание от поставщика"}
                for c in CARDS
                if c.marketplace == marketplace
            ]
            await _control(http, base, "POST", "/cards", {"marketplace": marketplace.value, "cards": cards})
        await _control(http, base, "POST", "/faults", TRANSIENT)
        await _control(http, base, "POST", "/faults", REFUSED)


async def seed_drafts(db: asyncpg.Pool) -> list[UUID]:
    ids = []
    for card in CARDS:
        draft = await DraftRepository(db).create(
            user_id=DEMO_USER,
            sku=card.sku,
            marketplace=card.marketplace,
            title=card.title,
            description=card.description,
            seo_tags=list(card.seo_tags),
        )
        await GenerationRepository(db).create(
            sku=card.sku, marketplace=card.marketplace, draft_id=draft.id, model="demo", output={"title": card.title}
        )
        ids.append(draft.id)
    return ids


def say(text: str) -> None:
    print(f"[demo] {text}", flush=True)


async def run_demo(settings: Settings) -> int:
    base = sandbox_url(settings)
    await seed_marketplaces(base)
    db = await create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        await _publish_all(settings, db, base)
        async with await AdolfClient.connect(settings) as client:
            await run_scout_demo(client, db, say)
    finally:
        await db.close()
    say(f"the worker keeps running: health http://127.0.0.1:{settings.health_port}/ready, Ctrl-C stops everything")
    return 0


async def _publish_all(settings: Settings, db: asyncpg.Pool, base: str) -> None:
    drafts = await seed_drafts(db)
    say(f"seeded {len(CARDS)} cards in the simulator at {base} and {len(drafts)} approved drafts")
    async with await AdolfClient.connect(settings) as client:
        jobs = [await client.publish_content(draft_id=d, user_id=DEMO_USER) for d in drafts]
        results = await asyncio.gather(*(job.result(timeout=RESULT_TIMEOUT) for job in jobs))
        failed = []
        for card, draft_id, job, result in zip(CARDS, drafts, jobs, results, strict=True):
            tries = (await job.result_info()).job_try
            state = "published" if result["success"] else f"FAILED {result.get('error_code')}"
            say(f"{card.marketplace.value:4} {card.sku:10} {state} after {tries} tr{'y' if tries == 1 else 'ies'}")
            if not result["success"]:
                failed.append((card, draft_id))
        if failed:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
                await _control(http, base, "DELETE", "/faults")
            say("the simulator no longer refuses the card (as if the seller had fixed it)")
        for card, draft_id in failed:
            await _retry_by_hand(client, db, card, draft_id)
        await asyncio.sleep(1.5)  # the simulator applies accepted updates after a short delay, like the real ones
        stats = await (await client.sync_publication_status()).result(timeout=RESULT_TIMEOUT)
        say(f"sync_publication_status: {stats}")


async def _retry_by_hand(client: AdolfClient, db: asyncpg.Pool, card: DemoCard, draft_id: UUID) -> None:
    publication = await PublicationRepository(db).get_latest_for_draft(draft_id)
    if publication is None:
        return
    publication_id = publication.id
    say(f"retrying {card.sku} by hand: content_factory.tasks.retry_publication({publication_id})")
    scheduled = await (await client.retry_publication(publication_id=publication_id, user_id=DEMO_USER)).result(
        timeout=RESULT_TIMEOUT
    )
    result = await client.result(scheduled["job_id"], timeout=RESULT_TIMEOUT)
    say(f"{card.marketplace.value:4} {card.sku:10} {'published' if result['success'] else 'FAILED'} after the retry")
