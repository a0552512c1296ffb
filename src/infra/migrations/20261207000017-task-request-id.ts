import { Migration } from '@mikro-orm/migrations';

/**
 * The request id of the call that scheduled a task, so the runner's log lines name the request
 * that asked for the work (null for tasks scheduled by the service itself, such as retention).
 */
export class Migration20261207000017TaskRequestId extends Migration {
  async up(): Promise<void> {
    this.addSql('ALTER TABLE scheduled_tasks ADD COLUMN request_id text');
  }

  async down(): Promise<void> {
    this.addSql('ALTER TABLE scheduled_tasks DROP COLUMN request_id');
  }
}
