import { CloudWatchClient, DescribeAlarmsCommand, type CompositeAlarm, type MetricAlarm } from '@aws-sdk/client-cloudwatch';
import { UserError } from '../errors.js';
import type { AlarmWatch } from '../providers/types.js';
import { AwsCalls, awsClientConfig } from './clients.js';

/** DescribeAlarms takes at most 100 names per call. */
const NAMES_PER_CALL = 100;

/**
 * The CloudWatch alarms a user names (`cloudwatch-alarms`), read during validation: any in ALARM
 * fails the check and moves traffic back. CloudWatch silently leaves out names it does not know,
 * so a missing alarm is an error here: a typo must not read as "all clear".
 */
export class CloudWatchAlarms implements AlarmWatch {
  constructor(
    private readonly names: string[],
    private readonly calls: AwsCalls,
    private readonly client: CloudWatchClient,
  ) {}

  static forRegion(names: string[], region: string, calls: AwsCalls): CloudWatchAlarms {
    return new CloudWatchAlarms(names, calls, new CloudWatchClient(awsClientConfig(region)));
  }

  async firing(): Promise<string[]> {
    const found = new Map<string, MetricAlarm | CompositeAlarm>();
    for (let i = 0; i < this.names.length; i += NAMES_PER_CALL) {
      const AlarmNames = this.names.slice(i, i + NAMES_PER_CALL);
      let NextToken: string | undefined;
      do {
        const page = await this.calls.call(
          'cloudwatch:DescribeAlarms',
          () => this.client.send(new DescribeAlarmsCommand({ AlarmNames, AlarmTypes: ['MetricAlarm', 'CompositeAlarm'], ...(NextToken && { NextToken }) })),
          `alarms ${AlarmNames.join(', ')}`,
        );
        for (const alarm of [...(page.MetricAlarms ?? []), ...(page.CompositeAlarms ?? [])]) if (alarm.AlarmName) found.set(alarm.AlarmName, alarm);
        NextToken = page.NextToken;
      } while (NextToken);
    }
    const missing = this.names.filter((name) => !found.has(name));
    if (missing.length > 0) {
      throw new UserError(
        `CloudWatch has no alarm named ${missing.join(', ')} in this region. Input 'cloudwatch-alarms': check the names (they are case-sensitive) and aws-region.`,
      );
    }
    return this.names
      .map((name) => found.get(name))
      .filter((alarm) => alarm?.StateValue === 'ALARM')
      .map((alarm) => `alarm ${alarm?.AlarmName} is ALARM: ${alarm?.StateReason ?? 'no reason given'}`);
  }

  close(): void {
    this.client.destroy();
  }
}
