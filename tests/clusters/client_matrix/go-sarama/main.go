// Go client of the matrix: IBM sarama (SCRAM through xdg-go/scram, as sarama documents).
package main

import (
	"context"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/xdg-go/scram"
)

type scramClient struct {
	*scram.ClientConversation
}

func (c *scramClient) Begin(user, pass, authzID string) error {
	client, err := scram.HashGeneratorFcn(sha512.New).NewClient(user, pass, authzID)
	if err != nil {
		return err
	}
	c.ClientConversation = client.NewConversation()
	return nil
}

func (c *scramClient) Step(challenge string) (string, error) { return c.ClientConversation.Step(challenge) }
func (c *scramClient) Done() bool                              { return c.ClientConversation.Done() }

type handler struct {
	count int
	mu    sync.Mutex
	seen  map[string]bool
	done  chan struct{}
	once  sync.Once
}

func (h *handler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *handler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *handler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for message := range c.Messages() {
		h.mu.Lock()
		h.seen[string(message.Value)] = true
		n := len(h.seen)
		h.mu.Unlock()
		s.MarkMessage(message, "")
		if n >= h.count {
			h.once.Do(func() { close(h.done) })
		}
	}
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run() error {
	pem, err := os.ReadFile(os.Getenv("CA"))
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	config := sarama.NewConfig()
	config.Version = sarama.V3_6_0_0
	config.Net.TLS.Enable = true
	config.Net.TLS.Config = &tls.Config{RootCAs: pool}
	config.Net.SASL.Enable = true
	config.Net.SASL.User = os.Getenv("USERNAME")
	config.Net.SASL.Password = os.Getenv("PASSWORD")
	if os.Getenv("MECHANISM") == "PLAIN" {
		config.Net.SASL.Mechanism = sarama.SASLTypePlaintext
	} else {
		config.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA512
		config.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{} }
	}
	config.Producer.RequiredAcks = sarama.WaitForAll
	config.Producer.Return.Successes = true
	config.Producer.Retry.Max = 2
	config.Metadata.Retry.Max = 2
	config.Consumer.Offsets.Initial = sarama.OffsetOldest
	brokers := strings.Split(os.Getenv("BOOTSTRAP"), ",")
	topic := os.Getenv("TOPIC")
	count, _ := strconv.Atoi(os.Getenv("COUNT"))

	producer, err := sarama.NewSyncProducer(brokers, config)
	if err != nil {
		return fmt.Errorf("producer: %w", err)
	}
	for i := 0; i < count; i++ {
		value := sarama.StringEncoder(fmt.Sprintf("sarama-%d", i))
		if _, _, err := producer.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: value}); err != nil {
			producer.Close()
			return fmt.Errorf("produce: %w", err)
		}
	}
	producer.Close()

	group, err := sarama.NewConsumerGroup(brokers, os.Getenv("GROUP"), config)
	if err != nil {
		return fmt.Errorf("consumer group: %w", err)
	}
	defer group.Close()
	h := &handler{count: count, seen: map[string]bool{}, done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	failed := make(chan error, 1)
	go func() {
		for ctx.Err() == nil {
			if err := group.Consume(ctx, []string{topic}, h); err != nil {
				failed <- err
				return
			}
		}
	}()
	select {
	case <-h.done:
	case err := <-failed:
		return fmt.Errorf("consume: %w", err)
	case <-ctx.Done():
		return fmt.Errorf("consumed %d of %d", len(h.seen), count)
	}
	cancel()
	fmt.Printf("OK produced=%d consumed=%d\n", count, len(h.seen))
	return nil
}
