-- the draft's attributes as the marketplace was sent them, by its attribute id: verification compares them too
ALTER TABLE publications ADD COLUMN published_attributes jsonb;
