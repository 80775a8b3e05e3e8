-- ADOLF schema (SPEC section 4), PostgreSQL >= 13 (gen_random_uuid() is built in).
-- CHECK constraints name the Python enum they mirror (adolf/models/*.py).

-- ---------------------------------------------------------------- Content Factory

CREATE TABLE content_drafts (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id           uuid NOT NULL,
    sku               text NOT NULL CHECK (length(sku) BETWEEN 1 AND 255),
    marketplace       text NOT NULL CHECK (marketplace IN ('wb', 'ozon', 'ym')),  -- should match Marketplace
    title             text NOT NULL DEFAULT '',
    description       text NOT NULL DEFAULT '',
    attributes        jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(attributes) = 'object'),
    seo_tags          jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(seo_tags) = 'array'),
    -- should match DraftStatus
    status            text NOT NULL DEFAULT 'draft'
                      CHECK (status IN ('draft', 'review', 'approved', 'rejected', 'published', 'archived')),
    is_valid          boolean NOT NULL DEFAULT false,
    validation_errors jsonb NOT NULL DEFAULT '[]'::jsonb,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX content_drafts_status_updated_idx ON content_drafts (status, updated_at);
CREATE INDEX content_drafts_sku_idx ON content_drafts (marketplace, sku);

CREATE TABLE generations (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    draft_id    uuid REFERENCES content_drafts (id) ON DELETE SET NULL,
    sku         text NOT NULL,
    marketplace text NOT NULL CHECK (marketplace IN ('wb', 'ozon', 'ym')),
    kind        text NOT NULL DEFAULT 'description' CHECK (kind IN ('description', 'seo', 'title')),
    model       text NOT NULL DEFAULT '',
    prompt      text NOT NULL DEFAULT '',
    output      jsonb NOT NULL DEFAULT '{}'::jsonb,
    tokens_used integer NOT NULL DEFAULT 0 CHECK (tokens_used >= 0),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX generations_orphaned_idx ON generations (created_at) WHERE draft_id IS NULL;
CREATE INDEX generations_draft_idx ON generations (draft_id);

CREATE TABLE publications (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    draft_id              uuid NOT NULL REFERENCES content_drafts (id) ON DELETE CASCADE,
    sku                   text NOT NULL,
    marketplace           text NOT NULL CHECK (marketplace IN ('wb', 'ozon', 'ym')),
    -- should match PublicationStatus
    status                text NOT NULL DEFAULT 'pending'
                          CHECK (status IN ('pending', 'processing', 'published', 'failed', 'verified', 'mismatched')),
    nm_id                 text,
    api_response          jsonb,
    error_code            text,
    error_message         text,
    retry_count           integer NOT NULL DEFAULT 0 CHECK (retry_count >= 0),
    -- bumped by every manual retry: one failure notification per round, however often a job re-runs
    round                 integer NOT NULL DEFAULT 1 CHECK (round >= 1),
    -- the job run (job id @ enqueue time) working on it: a re-run after a crash recognises its own outcome
    job_ref               text,
    published_by          uuid NOT NULL,
    published_title       text,
    published_description text,
    published_at          timestamptz,
    verified_at           timestamptz,
    mismatch              jsonb,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    CHECK (status NOT IN ('published', 'verified', 'mismatched') OR published_at IS NOT NULL)
);
-- at most one publication in flight per draft: a re-run job reuses it instead of creating a second row
CREATE UNIQUE INDEX publications_one_active_per_draft ON publications (draft_id)
    WHERE status IN ('pending', 'processing');
CREATE INDEX publications_status_published_idx ON publications (status, published_at);
CREATE INDEX publications_draft_idx ON publications (draft_id, created_at DESC);

-- the outbox: every notification and alert is a row first, delivered to channels afterwards
CREATE TABLE notifications (
    id            bigserial PRIMARY KEY,
    user_id       uuid,
    kind          text NOT NULL DEFAULT 'notification' CHECK (kind IN ('notification', 'alert')),
    event_type    text NOT NULL,
    data          jsonb NOT NULL DEFAULT '{}'::jsonb,
    dedup_key     text UNIQUE,
    -- should match DeliveryStatus
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'logged', 'failed')),
    attempts      integer NOT NULL DEFAULT 0,
    sent_channels text[] NOT NULL DEFAULT '{}',  -- channels that already have it: a retry skips them
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    delivered_at  timestamptz
);
CREATE INDEX notifications_due_idx ON notifications (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notifications_user_idx ON notifications (user_id, created_at DESC);

-- dead-letter store: every job that finally failed (any job, any module)
CREATE TABLE failed_jobs (
    id          bigserial PRIMARY KEY,
    job_id      text NOT NULL,
    job_name    text NOT NULL,
    queue       text NOT NULL DEFAULT '',
    args        jsonb NOT NULL DEFAULT '[]'::jsonb,
    kwargs      jsonb NOT NULL DEFAULT '{}'::jsonb,
    exception   text NOT NULL,
    error_code  text,
    tries       integer NOT NULL DEFAULT 1,
    enqueued_at timestamptz NOT NULL,
    failed_at   timestamptz NOT NULL DEFAULT now(),
    retried_at  timestamptz,
    retry_job_id text,
    -- a job id can be reused (one publish job per draft), its enqueue time tells the runs apart
    UNIQUE (job_id, enqueued_at)
);
CREATE INDEX failed_jobs_failed_at_idx ON failed_jobs (failed_at DESC);
CREATE INDEX failed_jobs_name_idx ON failed_jobs (job_name, failed_at DESC);

-- bearer tokens of the HTTP API; only a SHA-256 hash is stored, never the token
CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name         text NOT NULL,
    user_id      uuid NOT NULL,
    token_sha256 bytea NOT NULL UNIQUE CHECK (length(token_sha256) = 32),
    scopes       text[] NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);

-- ---------------------------------------------------------------- Scout

CREATE TABLE niches (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name              text NOT NULL,
    marketplace       text NOT NULL CHECK (marketplace IN ('wb', 'ozon', 'ym')),
    category_id       text,
    queries           text[] NOT NULL DEFAULT '{}',
    is_active         boolean NOT NULL DEFAULT true,
    opportunity_score numeric(5, 2) CHECK (opportunity_score BETWEEN 0 AND 100),
    score_components  jsonb,
    score_updated_at  timestamptz,
    trends_updated_at timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (category_id IS NOT NULL OR cardinality(queries) > 0)
);
CREATE INDEX niches_active_idx ON niches (is_active) WHERE is_active;

-- weekly trend series of a niche; one row per niche and week
CREATE TABLE niche_trends (
    niche_id          uuid NOT NULL REFERENCES niches (id) ON DELETE CASCADE,
    week_start        date NOT NULL CHECK (extract(isodow FROM week_start) = 1),
    search_volume     bigint CHECK (search_volume >= 0),
    orders            bigint CHECK (orders >= 0),
    revenue           numeric(16, 2) CHECK (revenue >= 0),
    avg_price         numeric(12, 2) CHECK (avg_price >= 0),
    sellers           integer CHECK (sellers >= 0),
    new_sellers       integer CHECK (new_sellers >= 0),
    top_seller_shares jsonb NOT NULL DEFAULT '[]'::jsonb,
    source            text NOT NULL DEFAULT 'marketplace' CHECK (source IN ('marketplace', 'csv')),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (niche_id, week_start)
);

CREATE TABLE niche_analyses (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    niche_id          uuid NOT NULL REFERENCES niches (id) ON DELETE CASCADE,
    requested_by      uuid,
    params            jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- should match AnalysisStatus
    status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'completed', 'failed')),
    result            jsonb,
    opportunity_score numeric(5, 2) CHECK (opportunity_score BETWEEN 0 AND 100),
    error             text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    completed_at      timestamptz
);
CREATE INDEX niche_analyses_niche_idx ON niche_analyses (niche_id, created_at DESC);
CREATE INDEX niche_analyses_created_idx ON niche_analyses (created_at);

CREATE TABLE reports (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    analysis_id uuid NOT NULL REFERENCES niche_analyses (id) ON DELETE CASCADE,
    format      text NOT NULL CHECK (format IN ('csv', 'xlsx', 'json', 'html')),  -- should match ReportFormat
    path        text NOT NULL,
    size_bytes  bigint NOT NULL CHECK (size_bytes >= 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (analysis_id, format)
);
