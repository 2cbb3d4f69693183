/**
 * The part of the AWS Systems Manager API that the SSM releaser (src/hosts/ssm.ts) calls, written as
 * a Smithy JSON model by hand: AWS publishes no SSM model beside the three in the contracts source,
 * so this follows the SSM API Reference (docs.aws.amazon.com/systems-manager/latest/APIReference:
 * SendCommand, ListCommandInvocations, GetCommandInvocation, DescribeInstanceInformation, CancelCommand) for every
 * request member the releaser sends or could send: required members, lengths, ranges, patterns and
 * enums as the reference states them. Only the request side is modeled: the double answers in JSON.
 */
const NS = 'com.amazonaws.ssm';
const id = (name: string) => `${NS}#${name}`;
const member = (target: string, traits: Record<string, unknown> = {}) => ({
  target: target.includes('#') ? target : id(target),
  ...(Object.keys(traits).length > 0 && { traits }),
});
const required = { 'smithy.api#required': {} };
const string = (traits: Record<string, unknown> = {}) => ({ type: 'string', ...(Object.keys(traits).length > 0 && { traits }) });
const length = (min?: number, max?: number) => ({ 'smithy.api#length': { ...(min !== undefined && { min }), ...(max !== undefined && { max }) } });
const range = (min?: number, max?: number) => ({ 'smithy.api#range': { ...(min !== undefined && { min }), ...(max !== undefined && { max }) } });
const pattern = (p: string) => ({ 'smithy.api#pattern': p });
const list = (target: string, traits: Record<string, unknown> = {}) => ({
  type: 'list',
  member: member(target),
  ...(Object.keys(traits).length > 0 && { traits }),
});
const operation = (name: string) => ({
  type: 'operation',
  input: member(`${name}Request`),
  output: member(`${name}Result`),
  traits: { 'smithy.api#documentation': `https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_${name}.html` },
});
const structure = (members: Record<string, unknown>, traits: Record<string, unknown> = {}) => ({
  type: 'structure',
  members,
  ...(Object.keys(traits).length > 0 && { traits }),
});

export const SSM_OPERATIONS = ['SendCommand', 'ListCommandInvocations', 'GetCommandInvocation', 'DescribeInstanceInformation', 'CancelCommand'];

export const SSM_MODEL = {
  smithy: '2.0',
  metadata: { 'x-source': 'hand-written from the AWS Systems Manager API Reference (no published model in the contracts source)' },
  shapes: {
    [id('AmazonSSM')]: {
      type: 'service',
      version: '2014-11-06',
      operations: SSM_OPERATIONS.map((name) => ({ target: id(name) })),
      traits: {
        'aws.api#service': { sdkId: 'SSM', arnNamespace: 'ssm', endpointPrefix: 'ssm' },
        'aws.auth#sigv4': { name: 'ssm' },
        'aws.protocols#awsJson1_1': {},
      },
    },
    ...Object.fromEntries(SSM_OPERATIONS.map((name) => [id(name), operation(name)])),
    [id('SendCommandRequest')]: structure({
      InstanceIds: member('InstanceIdList'),
      Targets: member('Targets'),
      DocumentName: member('DocumentARN', required),
      DocumentVersion: member('DocumentVersion'),
      DocumentHash: member('DocumentHash'),
      DocumentHashType: member('DocumentHashType'),
      TimeoutSeconds: member('TimeoutSeconds'),
      Comment: member('Comment'),
      Parameters: member('Parameters'),
      OutputS3Region: member('S3Region'),
      OutputS3BucketName: member('S3BucketName'),
      OutputS3KeyPrefix: member('S3KeyPrefix'),
      MaxConcurrency: member('MaxConcurrency'),
      MaxErrors: member('MaxErrors'),
      ServiceRoleArn: member('smithy.api#String'),
    }),
    [id('SendCommandResult')]: structure({ Command: member('smithy.api#Document') }),
    [id('ListCommandInvocationsRequest')]: structure({
      CommandId: member('CommandId'),
      InstanceId: member('InstanceId'),
      MaxResults: member('CommandMaxResults'),
      NextToken: member('NextToken'),
      Filters: member('CommandFilterList'),
      Details: member('smithy.api#Boolean'),
    }),
    [id('ListCommandInvocationsResult')]: structure({ CommandInvocations: member('smithy.api#Document'), NextToken: member('NextToken') }),
    [id('GetCommandInvocationRequest')]: structure({
      CommandId: member('CommandId', required),
      InstanceId: member('InstanceId', required),
      PluginName: member('CommandPluginName'),
    }),
    [id('GetCommandInvocationResult')]: structure({
      Status: member('smithy.api#String'),
      ResponseCode: member('smithy.api#Integer'),
      StandardOutputContent: member('smithy.api#String'),
      StandardErrorContent: member('smithy.api#String'),
    }),
    [id('DescribeInstanceInformationRequest')]: structure({
      InstanceInformationFilterList: member('InstanceInformationFilterList'),
      Filters: member('InstanceInformationStringFilterList'),
      MaxResults: member('MaxResultsEC2Compatible'),
      NextToken: member('NextToken'),
    }),
    [id('DescribeInstanceInformationResult')]: structure({ InstanceInformationList: member('smithy.api#Document'), NextToken: member('NextToken') }),
    [id('CancelCommandRequest')]: structure({ CommandId: member('CommandId', required), InstanceIds: member('InstanceIdList') }),
    [id('CancelCommandResult')]: structure({}),
    [id('InstanceId')]: string(pattern('(^i-(\\w{8}|\\w{17})$)|(^mi-\\w{17}$)')),
    [id('InstanceIdList')]: list('InstanceId', length(0, 50)),
    [id('Targets')]: list('Target', length(0, 5)),
    [id('Target')]: structure({ Key: member('TargetKey'), Values: member('TargetValues') }),
    [id('TargetKey')]: string({ ...length(1, 163), ...pattern('^[\\p{L}\\p{Z}\\p{N}_.:/=\\-@]*$|resource-groups:ResourceTypeFilters|resource-groups:Name') }),
    [id('TargetValues')]: list('TargetValue', length(0, 50)),
    [id('TargetValue')]: string(),
    [id('DocumentARN')]: string(pattern('^[a-zA-Z0-9_\\-.:/]{3,128}$')),
    [id('DocumentVersion')]: string(pattern('([$]LATEST|[$]DEFAULT|^[1-9][0-9]*$)')),
    [id('DocumentHash')]: string(length(0, 256)),
    [id('DocumentHashType')]: string({ 'smithy.api#enum': [{ value: 'Sha256' }, { value: 'Sha1' }] }),
    [id('TimeoutSeconds')]: { type: 'integer', traits: range(30, 2592000) },
    [id('Comment')]: string(length(0, 100)),
    [id('Parameters')]: { type: 'map', key: member('ParameterName'), value: member('ParameterValueList') },
    [id('ParameterName')]: string(),
    [id('ParameterValueList')]: list('ParameterValue'),
    [id('ParameterValue')]: string(),
    [id('S3Region')]: string(length(3, 20)),
    [id('S3BucketName')]: string(length(3, 63)),
    [id('S3KeyPrefix')]: string(length(0, 500)),
    [id('MaxConcurrency')]: string({ ...length(1, 7), ...pattern('^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$') }),
    [id('MaxErrors')]: string({ ...length(1, 7), ...pattern('^([1-9][0-9]*|[0]|[1-9][0-9]%|[0-9]%|100%)$') }),
    [id('CommandId')]: string(length(36, 36)),
    [id('CommandMaxResults')]: { type: 'integer', traits: range(1, 50) },
    [id('NextToken')]: string(),
    [id('CommandFilterList')]: list('CommandFilter', length(1, 5)),
    [id('CommandFilter')]: structure({ key: member('CommandFilterKey', required), value: member('CommandFilterValue', required) }),
    [id('CommandFilterKey')]: string({
      'smithy.api#enum': ['InvokedAfter', 'InvokedBefore', 'Status', 'ExecutionStage', 'DocumentName'].map((value) => ({ value })),
    }),
    [id('CommandFilterValue')]: string(length(1)),
    [id('CommandPluginName')]: string(length(4)),
    [id('InstanceInformationFilterList')]: list('InstanceInformationFilter', length(0)),
    [id('InstanceInformationFilter')]: structure({
      key: member('InstanceInformationFilterKey', required),
      valueSet: member('InstanceInformationFilterValueSet', required),
    }),
    [id('InstanceInformationFilterKey')]: string({
      'smithy.api#enum': ['InstanceIds', 'AgentVersion', 'PingStatus', 'PlatformTypes', 'ActivationIds', 'IamRole', 'ResourceType', 'AssociationStatus'].map(
        (value) => ({ value }),
      ),
    }),
    [id('InstanceInformationFilterValueSet')]: list('InstanceInformationFilterValue', length(1, 100)),
    [id('InstanceInformationFilterValue')]: string(length(1)),
    [id('InstanceInformationStringFilterList')]: list('InstanceInformationStringFilter', length(0)),
    [id('InstanceInformationStringFilter')]: structure({
      Key: member('InstanceInformationStringFilterKey', required),
      Values: member('InstanceInformationFilterValueSet', required),
    }),
    [id('InstanceInformationStringFilterKey')]: string(length(1)),
    [id('MaxResultsEC2Compatible')]: { type: 'integer', traits: range(5, 50) },
  },
};
