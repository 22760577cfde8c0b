// Go client of the matrix: franz-go.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

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
	var mechanism sasl.Mechanism
	if os.Getenv("MECHANISM") == "PLAIN" {
		mechanism = plain.Auth{User: os.Getenv("USERNAME"), Pass: os.Getenv("PASSWORD")}.AsMechanism()
	} else {
		mechanism = scram.Auth{User: os.Getenv("USERNAME"), Pass: os.Getenv("PASSWORD")}.AsSha512Mechanism()
	}
	topic := os.Getenv("TOPIC")
	count, _ := strconv.Atoi(os.Getenv("COUNT"))
	client, err := kgo.NewClient(
		kgo.SeedBrokers(strings.Split(os.Getenv("BOOTSTRAP"), ",")...),
		kgo.DialTLSConfig(&tls.Config{RootCAs: pool}),
		kgo.SASL(mechanism),
		kgo.ConsumerGroup(os.Getenv("GROUP")),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RequestRetries(2),
	)
	if err != nil {
		return err
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for i := 0; i < count; i++ {
		record := &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf("franz-%d", i))}
		if err := client.ProduceSync(ctx, record).FirstErr(); err != nil {
			return fmt.Errorf("produce: %w", err)
		}
	}
	seen := map[string]bool{}
	for len(seen) < count {
		fetches := client.PollFetches(ctx)
		if ctx.Err() != nil {
			return fmt.Errorf("consumed %d of %d", len(seen), count)
		}
		if errs := fetches.Errors(); len(errs) > 0 {
			return fmt.Errorf("consume: %v", errs[0].Err)
		}
		fetches.EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true })
	}
	if err := client.CommitUncommittedOffsets(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	fmt.Printf("OK produced=%d consumed=%d\n", count, len(seen))
	return nil
}
