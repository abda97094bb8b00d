ALTER TABLE "subscriptions" ADD COLUMN "disabled_reason" text;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "rate_limit" jsonb;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "max_in_flight" integer;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "disable_on_gone" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "settings" jsonb DEFAULT '{}'::jsonb NOT NULL;