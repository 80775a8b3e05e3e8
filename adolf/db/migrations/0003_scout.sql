-- Scout: concentration as given by a CSV import (or computed from the top sellers' shares), segment series for the
-- opportunities, a niche's name unique per marketplace (the CSV names niches), the score's source analysis
ALTER TABLE niche_trends
    ADD COLUMN top10_share numeric(6, 5) CHECK (top10_share BETWEEN 0 AND 1),
    ADD COLUMN hhi         numeric(8, 2) CHECK (hhi BETWEEN 0 AND 10000);
ALTER TABLE niche_trends ALTER COLUMN top_seller_shares DROP NOT NULL;
ALTER TABLE niche_trends ALTER COLUMN top_seller_shares DROP DEFAULT;

CREATE UNIQUE INDEX niches_name_idx ON niches (marketplace, lower(name));

-- weekly demand and competition of a niche's segments (search queries, subcategories)
CREATE TABLE niche_segment_trends (
    niche_id   uuid NOT NULL REFERENCES niches (id) ON DELETE CASCADE,
    segment    text NOT NULL,
    week_start date NOT NULL CHECK (extract(isodow FROM week_start) = 1),
    demand     bigint NOT NULL CHECK (demand >= 0),
    sellers    integer CHECK (sellers >= 0),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (niche_id, segment, week_start)
);

ALTER TABLE niches ADD COLUMN opportunities jsonb;

-- a niche imported from CSV has neither a category nor queries (update_trend_data then has nothing to fetch for it)
ALTER TABLE niches DROP CONSTRAINT niches_check;
