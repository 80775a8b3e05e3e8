"""30 WB drafts with every kind of attribute, published by a real worker and synced: each ends where WB would put it,
with WB's reason (issue 7's acceptance test)."""

import asyncio

from tests.support.factories import USER_ID, make_draft
from tests.support.waiting import eventually

DESCRIPTION = "Футболка из хлопка, свободный крой."
TITLE = "Футболка хлопковая белая"

# kind -> (title, description, attributes), and where WB puts such a draft: (status, a piece of the reason)
KINDS = {
    "by_id": ((TITLE, DESCRIPTION, {"14177449": "белый"}), ("verified", None)),
    "by_name": ((TITLE, DESCRIPTION, {"Цвет": ["белый", "черный"]}), ("verified", None)),
    "new_characteristic": ((TITLE, DESCRIPTION, {"Состав": "хлопок"}), ("verified", None)),
    "number": ((TITLE, DESCRIPTION, {"Вес товара без упаковки (г)": "250", "54337": 48}), ("verified", None)),
    "wrong_type": ((TITLE, DESCRIPTION, {"Размер": "большой"}), ("failed", "'Размер' takes one number")),
    "over_max_count": (
        (TITLE, DESCRIPTION, {"Цвет": ["белый", "черный", "синий", "красный", "зелёный", "жёлтый"]}),
        ("failed", "'Цвет' takes at most 5 value(s), got 6"),
    ),
    "unknown": ((TITLE, DESCRIPTION, {"Вкус": "сладкий"}), ("failed", "'Вкус': subject «Футболки» (105) has no")),
    "email": (
        (TITLE, DESCRIPTION + " Пишите: shop@example.org", {}),
        ("failed", "Описание: недопустимое содержимое — адрес электронной почты"),
    ),
    "emoji": ((TITLE + " 🔥", DESCRIPTION, {}), ("failed", "Наименование: недопустимые символы — эмодзи")),
    "title_70": (("Ф" * 70, DESCRIPTION, {}), ("failed", "Наименование: превышена максимальная длина 60 символов")),
}


async def test_30_wb_drafts_with_every_kind_of_attribute_end_where_wb_puts_them(db, marketplace, client, burst, rows):
    drafts = {}
    for kind, ((title, description, attributes), _) in KINDS.items():
        for n in range(3):
            sku = f"{kind}-{n}"
            await marketplace.seed("wb", {"sku": sku, "title": "Старое", "description": "Старое", "attributes": {}})
            drafts[sku] = await make_draft(
                db, marketplace="wb", sku=sku, title=title, description=description, attributes=attributes
            )
    assert len(drafts) == 30
    await asyncio.gather(*(client.publish_content(draft_id=d.id, user_id=USER_ID) for d in drafts.values()))
    await burst(["content_high"])

    async def applied():
        return (await marketplace.counters())["pending_applies"] == 0

    await eventually(applied, what="WB applied what it accepted")
    sync = await client.sync_publication_status()
    await burst(["content_default"])
    stats = (await sync.result_info()).result
    assert (stats["verified"], stats["rejected"], stats["mismatched"], stats["pending"]) == (12, 9, 0, 0)

    publications = {p["sku"]: p for p in await rows.publications()}
    for sku, draft in drafts.items():
        status, reason = KINDS[sku.rsplit("-", 1)[0]][1]
        publication = publications[sku]
        assert publication["status"] == status, (sku, publication["error_message"])
        if reason is None:
            assert publication["error_code"] is None and publication["error_message"] is None
            card = await marketplace.card("wb", sku)
            assert (card["title"], card["description"]) == (draft.title, draft.description)
        else:
            assert publication["error_code"] == "VALIDATION_ERROR" and reason in publication["error_message"], sku
    assert (await marketplace.card("wb", "new_characteristic-0"))["attributes"]["14177450"] == ["хлопок"]
    assert (await marketplace.card("wb", "number-0"))["attributes"]["89008"] == 250
    assert (await marketplace.card("wb", "by_name-0"))["attributes"]["14177449"] == ["белый", "черный"]
    # refused before sending: never in an update request
    sent = {
        sku
        for entry in await marketplace.control("GET", "/requests?path_contains=cards/update")
        for sku in entry["skus"]
    }
    assert not {sku for sku in drafts if sku.split("-")[0] in ("wrong_type", "over_max_count", "unknown")} & sent
    notes = await rows.notifications("content.publish_error")
    assert len(notes) == 18  # every failed card's seller is told, once
