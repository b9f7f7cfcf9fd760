/**
 * Every topic the MQTT publisher uses, and the Home Assistant discovery config (docs/INTEGRATIONS.md has the table).
 *
 *   <prefix>/status                         online | offline (retained; offline is also the last will)
 *   <prefix>/<camera>/expression            dominant expression or `none` (retained)
 *   <prefix>/<camera>/state                 JSON MqttState: label, scores, faces, ts (retained)
 *   <prefix>/<camera>/face/enter|leave      JSON {cameraId, trackId, userId, ts} (not retained)
 *   <prefix>/users/<user>/…                 the same four, per user (state also names the camera)
 *   <haPrefix>/sensor/<node>_<camera>/config        HA discovery (retained; empty = removed)
 *   <haPrefix>/sensor/<node>_user_<user>/config
 */

/**
 * One topic level from an id: `/`, `+`, `#` and anything else outside [A-Za-z0-9_-] become `_` (MQTT wildcards and
 * separators must not appear; HA's object ids allow only these). Server-made ids (c…, b…, u… + hex) pass unchanged.
 */
export function topicSegment(id: string): string {
  return id.replace(/[^A-Za-z0-9_-]/g, '_');
}

export interface EntityTopics {
  expression: string;
  state: string;
  face(kind: 'enter' | 'leave'): string;
}

export class MqttTopics {
  readonly availability: string;

  constructor(
    private readonly prefix: string,
    private readonly haPrefix: string,
  ) {
    this.availability = `${prefix}/status`;
  }

  camera(cameraId: string): EntityTopics {
    return this.entity(`${this.prefix}/${topicSegment(cameraId)}`);
  }

  user(userId: string): EntityTopics {
    return this.entity(`${this.prefix}/users/${topicSegment(userId)}`);
  }

  discovery(kind: 'camera' | 'user', id: string): string {
    const node = topicSegment(this.prefix);
    return `${this.haPrefix}/sensor/${node}_${kind === 'user' ? 'user_' : ''}${topicSegment(id)}/config`;
  }

  private entity(base: string): EntityTopics {
    return { expression: `${base}/expression`, state: `${base}/state`, face: (kind) => `${base}/face/${kind}` };
  }
}

/**
 * A Home Assistant MQTT discovery config (https://www.home-assistant.io/integrations/sensor.mqtt/): one sensor whose
 * state is the dominant expression and whose attributes are the 7 scores, on a device per camera or user, available
 * while the server's availability topic says `online`.
 */
export function discoveryConfig(o: {
  kind: 'camera' | 'user';
  id: string;
  name: string;
  node: string;
  topics: EntityTopics;
  availability: string;
  version: string;
}) {
  const uid = `${o.node}_${o.kind === 'user' ? 'user_' : ''}${topicSegment(o.id)}`;
  return {
    name: 'Expression',
    unique_id: `${uid}_expression`,
    state_topic: o.topics.expression,
    json_attributes_topic: o.topics.state,
    json_attributes_template: '{{ (value_json.scores or {}) | tojson }}',
    availability_topic: o.availability,
    payload_available: 'online',
    payload_not_available: 'offline',
    icon: 'mdi:emoticon-outline',
    device: {
      identifiers: [uid],
      name: o.kind === 'user' ? `${o.name} (iExpressionNet user)` : `${o.name} (iExpressionNet camera)`,
      manufacturer: 'iExpressionNet',
      model: o.kind === 'user' ? 'user' : 'camera',
      sw_version: o.version,
    },
    origin: { name: 'iExpressionNet', sw_version: o.version },
  };
}
