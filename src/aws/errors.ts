import { UserError, oneLine } from '../errors.js';

/** What the SDK throws: a service exception carries the error code as `name`, and the HTTP status. */
interface AwsErrorShape {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  code?: string;
}

const shape = (error: unknown): AwsErrorShape => (typeof error === 'object' && error !== null ? (error as AwsErrorShape) : {});

/** The codes AWS services use for "slow down" (query APIs say `Throttling`, JSON APIs `ThrottlingException`). */
const THROTTLING = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'SlowDown',
  'PriorRequestNotComplete',
]);

const DENIED = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation', 'AuthorizationError']);
const BAD_CREDENTIALS = new Set([
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'SignatureDoesNotMatch',
  'IncompleteSignature',
]);
const NETWORK = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'TimeoutError']);

export function isThrottling(error: unknown): boolean {
  const { name, $metadata } = shape(error);
  return (name !== undefined && THROTTLING.has(name)) || $metadata?.httpStatusCode === 429;
}

/** Worth another attempt: throttling, a 5xx from AWS, or the network dropping the request. */
export function isRetryable(error: unknown): boolean {
  const { name, code, $metadata } = shape(error);
  const status = $metadata?.httpStatusCode ?? 0;
  return isThrottling(error) || status >= 500 || NETWORK.has(name ?? '') || NETWORK.has(code ?? '');
}

/**
 * One line for a failed AWS call: which call, on what, and what to do. A denial names the IAM
 * action to grant; missing or expired credentials point at the credentials step.
 */
export function awsError(
  action: string,
  error: unknown,
  { resource, notFound, attempts = 1 }: { resource?: string; notFound?: string; attempts?: number } = {},
): UserError {
  const { name = 'Error', message = String(error) } = shape(error);
  const on = resource ? ` on ${resource}` : '';
  const said = oneLine(message);
  if (notFound && /NotFound/.test(name)) return new UserError(`${resource ?? 'The resource'} was not found by ${action} (${name}: ${said}). ${notFound}`);
  if (DENIED.has(name)) {
    return new UserError(`AWS denied ${action}${on} (${name}: ${said}). Grant the role ${action} (see the IAM policy in the README).`);
  }
  if (name === 'CredentialsProviderError' || BAD_CREDENTIALS.has(name)) {
    return new UserError(
      `AWS ${action}${on} failed: no valid AWS credentials (${name}: ${said}). Run aws-actions/configure-aws-credentials before this step, or check the role it assumes.`,
    );
  }
  const tries = attempts > 1 ? ` after ${attempts} attempts` : '';
  if (isThrottling(error)) {
    return new UserError(`AWS kept throttling ${action}${on}${tries} (${name}: ${said}). Re-run later, or ask AWS for a higher API rate limit.`);
  }
  return new UserError(`AWS ${action}${on} failed${tries}: ${name}: ${said}`);
}
