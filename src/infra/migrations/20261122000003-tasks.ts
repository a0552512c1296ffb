import { Migration } from '@mikro-orm/migrations';

/**
 * The task scheduler's table: Synapse's `scheduled_tasks` columns plus what running tasks on
 * several instances needs.
 *
 * - `lease_owner`, `lease_id`, `lease_expires_at`: the claim of the instance running the task.
 *   `lease_id` comes from a sequence and changes at every claim; every write of a runner names
 *   it, so a runner whose lease was taken over cannot write. `lease_expires_at` is in ms of the
 *   database's clock (shared by all instances); a task whose lease expired is claimable again.
 * - `progress`: the latest progress report of the running action.
 * - `timestamp` keeps Synapse's meaning: due time while scheduled, otherwise time of the last
 *   update by the action (lease renewals do not touch it, so it measures progress, not life).
 * - `params`/`result`/`progress` are jsonb (Synapse stores JSON text).
 */
export class Migration20261122000003Tasks extends Migration {
  async up(): Promise<void> {
    this.addSql('CREATE SEQUENCE scheduled_tasks_lease_seq');
    this.addSql(`
      CREATE TABLE scheduled_tasks (
        id text PRIMARY KEY,
        action text NOT NULL,
        status text NOT NULL CHECK (status IN ('scheduled', 'active', 'complete', 'failed', 'cancelled')),
        "timestamp" bigint NOT NULL,
        resource_id text,
        params jsonb,
        result jsonb,
        error text,
        progress jsonb,
        lease_owner text,
        lease_id bigint,
        lease_expires_at bigint,
        attempts integer NOT NULL DEFAULT 0
      )`);
    this.addSql('CREATE INDEX scheduled_tasks_status_idx ON scheduled_tasks (status)');
    this.addSql('CREATE INDEX scheduled_tasks_timestamp_idx ON scheduled_tasks ("timestamp")');
    // Claims: due scheduled tasks in timestamp order, and the (few) active tasks whose lease is gone.
    this.addSql(`CREATE INDEX scheduled_tasks_due_idx ON scheduled_tasks ("timestamp", id) WHERE status = 'scheduled'`);
    this.addSql(`CREATE INDEX scheduled_tasks_active_idx ON scheduled_tasks ("timestamp", id) WHERE status = 'active'`);
    // Delete-status lookups by room.
    this.addSql('CREATE INDEX scheduled_tasks_resource_idx ON scheduled_tasks (resource_id, action) WHERE resource_id IS NOT NULL');
  }

  async down(): Promise<void> {
    this.addSql('DROP TABLE scheduled_tasks');
    this.addSql('DROP SEQUENCE scheduled_tasks_lease_seq');
  }
}
