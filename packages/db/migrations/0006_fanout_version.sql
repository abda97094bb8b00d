ALTER TABLE "tenants" ADD COLUMN "subscriptions_version" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
-- Every change that can alter a tenant's fan-out bumps its version, whoever makes it (an API
-- process, a worker disabling an endpoint, an operator in psql), so a remembered list of targets
-- is never trusted past a change.
CREATE FUNCTION "bump_subscriptions_version"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE "tenants" SET "subscriptions_version" = "subscriptions_version" + 1 WHERE "id" = NEW."tenant_id";
  ELSIF TG_OP = 'DELETE' THEN
    UPDATE "tenants" SET "subscriptions_version" = "subscriptions_version" + 1 WHERE "id" = OLD."tenant_id";
  ELSE
    UPDATE "tenants" SET "subscriptions_version" = "subscriptions_version" + 1 WHERE "id" IN (OLD."tenant_id", NEW."tenant_id");
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "subscriptions_fanout_version"
  AFTER INSERT OR DELETE OR UPDATE OF "tenant_id", "enabled", "deleted_at", "event_types" ON "subscriptions"
  FOR EACH ROW EXECUTE FUNCTION "bump_subscriptions_version"();
