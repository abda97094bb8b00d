-- Succeeded deliveries (nearly every row) leave the status index: see schema.ts. Built inside the
-- migration's transaction, so on a large table writes to deliveries wait while it reads every row.
DROP INDEX "deliveries_tenant_status_idx";--> statement-breakpoint
CREATE INDEX "deliveries_tenant_status_idx" ON "deliveries" USING btree ("tenant_id","status","id") WHERE "deliveries"."status" <> 'succeeded';
