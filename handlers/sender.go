package handlers

import (
	wsqs "github.com/ThreeDotsLabs/watermill-aws/sqs"
	"github.com/ThreeDotsLabs/watermill/message"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// metaSenderID is the message metadata key under which the subscriber hands a message's
// SQS SenderId (the IAM principal that sent it) to the handlers. Message attributes
// become metadata too, so a sender could write one under this name: senderUnmarshaler
// drops any such attribute before it sets the key from the system attribute, which only
// SQS writes.
const metaSenderID = "buildledger_sender_id"

// senderAttributes are the SQS system attributes the subscriber asks for.
var senderAttributes = []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameSenderId}

// senderUnmarshaler is watermill's SQS unmarshaler, with the message's SenderId system
// attribute, and only it, under metaSenderID.
type senderUnmarshaler struct {
	wsqs.DefaultMarshalerUnmarshaler
}

var _ wsqs.Unmarshaler = senderUnmarshaler{}

// Unmarshal returns the watermill message of an SQS message.
func (u senderUnmarshaler) Unmarshal(in *sqstypes.Message) (*message.Message, error) {
	msg, err := u.DefaultMarshalerUnmarshaler.Unmarshal(in)
	if err != nil {
		return nil, err
	}
	delete(msg.Metadata, metaSenderID)
	if id := in.Attributes[string(sqstypes.MessageSystemAttributeNameSenderId)]; id != "" {
		msg.Metadata.Set(metaSenderID, id)
	}
	return msg, nil
}
