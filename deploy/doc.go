// Package deploy holds buildledger's CloudFormation template, cloudformation.yaml: the
// tables, queues, topic and subscription that `buildledger init` creates, least-privilege
// IAM managed policies for the worker, command senders, readers and replays, and an
// optional ECS/Fargate service running the container image.
//
// The package has no code of its own. Its tests keep the template honest: they run init's
// own provisioning code against the local emulators, record every table, queue, topic and
// subscription it asks for, and require the template to declare exactly those, with the
// same keys, indexes and queue attributes; they evaluate each policy on the names the code
// derives (every read-table generation included) for what its role needs and must not
// have; they create the template's tables in DynamoDB Local; and they run cfn-lint on it.
package deploy
