CREATE TABLE "operator_actions" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"actor" text NOT NULL,
	"via" text NOT NULL,
	"action" text NOT NULL,
	"opportunity_id" text,
	"target" text,
	"reason" text,
	"outcome" text NOT NULL,
	"detail" jsonb
);
--> statement-breakpoint
ALTER TABLE "webhook_inbox" ADD COLUMN "signature_verified_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "webhook_inbox" ADD COLUMN "route_params" jsonb;--> statement-breakpoint
ALTER TABLE "webhook_inbox" ADD COLUMN "replays" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "operator_actions_deal" ON "operator_actions" USING btree ("opportunity_id","at");