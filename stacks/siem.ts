/**
 * Where the custody recorder forwards summaries and findings: an EventBridge bus (rules
 * route to any SIEM) and an encrypted SNS topic (for SIEMs that subscribe).
 */
import { CloudwatchEventBus, Construct, SnsTopic } from './cdktf.js'

/** Options for {@link SiemTargets}. */
export interface SiemTargetsOptions {
  eventBusName: string
  topicName: string
  kmsKeyArn: string
}

/** EventBridge bus and SNS topic for the SIEM. */
export class SiemTargets extends Construct {
  readonly bus: CloudwatchEventBus
  readonly topic: SnsTopic

  constructor(scope: Construct, id: string, o: SiemTargetsOptions) {
    super(scope, id)
    this.bus = new CloudwatchEventBus(this, 'bus', { name: o.eventBusName })
    this.topic = new SnsTopic(this, 'topic', { name: o.topicName, kmsMasterKeyId: o.kmsKeyArn })
  }
}
