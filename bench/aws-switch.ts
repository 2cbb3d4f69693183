import { ElasticLoadBalancingV2Client, ModifyListenerCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { otherColor, type Color } from '../src/colors.js';
import { LISTENER_ARN } from '../lab/aws-account.js';
import { AwsWorld } from '../lab/aws-world.js';
import type { Benchmark } from './index.js';
import { describeFlips, flipUnderLoad } from './support/color-load.js';

/**
 * The ALB switch on the local AWS (AwsWorld): FLIPS flips of the listener's forward under load, each
 * one ModifyListener sent by the real SDK client over HTTP to the AWS double (checked against the
 * ELBv2 model), which applies it to the HAProxy that is the listener's data plane (`set map`). One
 * instance per color, both serving r1, on 127.0.46.20-.21; the listener on 127.0.46.101, the API on .102.
 */
const FLIPS = 10;
const CONNECTIONS = 16;
const SETTLE_MS = 300;

const awsSwitch: Benchmark = {
  key: 'aws_switch',
  description: `ALB switch on the local AWS (ModifyListener over the wire, HAProxy data plane), ${FLIPS} flips under ${CONNECTIONS} keep-alive connections`,
  run: async () => {
    const world = await AwsWorld.start({
      network: '127.0.46',
      firstOctet: 20,
      balancerAddress: '127.0.46.101',
      apiAddress: '127.0.46.102',
      blue: 1,
      green: 1,
      poolPerColor: 1,
    });
    const saved = { ...process.env };
    try {
      await Promise.all([world.bootstrap('blue'), world.bootstrap('green')]);
      // Both colors UP in HAProxy's own checks first: a flip to a color not yet checked would answer 503.
      await Promise.all([world.healthy('blue', 60_000), world.healthy('green', 60_000)]);
      Object.assign(process.env, world.env());
      const elb = new ElasticLoadBalancingV2Client({});
      const arns = world.targetGroupArns;
      const figures = await flipUnderLoad({
        url: `${world.listenerUrl}/`,
        connections: CONNECTIONS,
        flips: FLIPS,
        first: 'green',
        settleMs: SETTLE_MS,
        flip: async (to: Color) => {
          const from = otherColor(to);
          await elb.send(
            new ModifyListenerCommand({
              ListenerArn: LISTENER_ARN,
              DefaultActions: [
                {
                  Type: 'forward',
                  ForwardConfig: {
                    TargetGroups: [
                      { TargetGroupArn: arns[to], Weight: 100 },
                      { TargetGroupArn: arns[from], Weight: 0 },
                    ],
                  },
                },
              ],
            }),
          );
          await world.settled();
        },
      });
      elb.destroy();
      if (world.wire.violations.length > 0) throw new Error(`requests broke the ELBv2 model: ${JSON.stringify(world.wire.violations)}`);
      console.log(describeFlips('aws_switch', figures));
      return { flips: figures.flips, requests: figures.requests, failed: figures.failed, latency_ms_p50: figures.latency_ms_p50 };
    } finally {
      process.env = saved;
      await world.stop();
    }
  },
};

export default [awsSwitch];
