import { afterEach, describe, expect, it } from '@jest/globals';
import { CloudWatchClient, DescribeAlarmsCommand, type DescribeAlarmsCommandInput, type MetricAlarm } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { CloudWatchAlarms } from '../src/aws/alarms.js';
import { AwsCalls, DEFAULT_AWS_TIMING } from '../src/aws/clients.js';

/**
 * CloudWatch's DescribeAlarms as the service behaves: names it does not know are left out, at most
 * 100 names per call (more is a ValidationError), pages of at most `pageSize` alarms with NextToken.
 */
function cloudWatch(alarms: MetricAlarm[], { pageSize = 50, denied = false } = {}) {
  const mock = mockClient(CloudWatchClient);
  mock.on(DescribeAlarmsCommand).callsFake((input: DescribeAlarmsCommandInput) => {
    if (denied)
      throw Object.assign(new Error('User: arn:aws:sts::123456789012:assumed-role/deploy is not authorized to perform: cloudwatch:DescribeAlarms'), {
        name: 'AccessDenied',
        $metadata: { httpStatusCode: 403 },
      });
    const names = input.AlarmNames ?? [];
    if (names.length > 100)
      throw Object.assign(new Error('The collection AlarmNames must not have a size greater than 100.'), {
        name: 'ValidationError',
        $metadata: { httpStatusCode: 400 },
      });
    const matching = alarms.filter((a) => names.includes(a.AlarmName ?? ''));
    const start = Number(input.NextToken ?? 0);
    const page = matching.slice(start, start + pageSize);
    return { MetricAlarms: page, CompositeAlarms: [], ...(start + pageSize < matching.length && { NextToken: String(start + pageSize) }) };
  });
  return mock;
}

const calls = new AwsCalls({ ...DEFAULT_AWS_TIMING, sleep: async () => undefined });
const alarm = (name: string, state: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA', reason = 'Threshold Crossed'): MetricAlarm => ({
  AlarmName: name,
  StateValue: state,
  StateReason: reason,
});

let mock: ReturnType<typeof cloudWatch> | undefined;
afterEach(() => mock?.restore());

describe('CloudWatch alarms during validation', () => {
  it('reports the alarms in ALARM with their reason, and none when all are OK or without data', async () => {
    const store = [alarm('shop-5xx', 'OK'), alarm('shop-latency', 'INSUFFICIENT_DATA')];
    mock = cloudWatch(store);
    const watch = new CloudWatchAlarms(['shop-5xx', 'shop-latency'], calls, new CloudWatchClient({ region: 'eu-west-1' }));
    expect(await watch.firing()).toEqual([]);
    store[0] = alarm('shop-5xx', 'ALARM', 'Threshold Crossed: 1 datapoint [12.0] was greater than the threshold (5.0).');
    expect(await watch.firing()).toEqual(['alarm shop-5xx is ALARM: Threshold Crossed: 1 datapoint [12.0] was greater than the threshold (5.0).']);
  });

  it('reads more than 100 alarms in calls of 100 names, following pages', async () => {
    const names = Array.from({ length: 230 }, (_, i) => `alarm-${i}`);
    mock = cloudWatch(
      names.map((n, i) => alarm(n, i === 229 ? 'ALARM' : 'OK')),
      { pageSize: 40 },
    );
    const watch = new CloudWatchAlarms(names, calls, new CloudWatchClient({ region: 'eu-west-1' }));
    expect(await watch.firing()).toEqual(['alarm alarm-229 is ALARM: Threshold Crossed']);
    expect(mock.commandCalls(DescribeAlarmsCommand).every((c) => (c.args[0].input.AlarmNames?.length ?? 0) <= 100)).toBe(true);
  });

  it('fails on an alarm name CloudWatch does not know, naming the input', async () => {
    mock = cloudWatch([alarm('shop-5xx', 'OK')]);
    const watch = new CloudWatchAlarms(['shop-5xx', 'shop-5XX-typo'], calls, new CloudWatchClient({ region: 'eu-west-1' }));
    await expect(watch.firing()).rejects.toThrow(
      "CloudWatch has no alarm named shop-5XX-typo in this region. Input 'cloudwatch-alarms': check the names (they are case-sensitive) and aws-region.",
    );
  });

  it('names the permission to grant when AWS denies the call', async () => {
    mock = cloudWatch([], { denied: true });
    const watch = new CloudWatchAlarms(['shop-5xx'], calls, new CloudWatchClient({ region: 'eu-west-1' }));
    await expect(watch.firing()).rejects.toThrow(
      /^AWS denied cloudwatch:DescribeAlarms on alarms shop-5xx \(AccessDenied: .*\)\. Grant the role cloudwatch:DescribeAlarms/,
    );
  });
});
