// Publishing with the Lantoa SDK: one signed event, and its fate.
//
//   lantoa-example-publish ENDPOINT BROKER_KEY KEY_FILE CHAIN_FILE TOPIC HEADLINE
// BROKER_KEY is the broker's transport key (base64url, printed at its start).
#include <lantoa/encoding.h>
#include <lantoa/publisher.h>
#include <lantoa/trust.h>

#include <iostream>

int main(int argc, char** argv) {
  if (argc != 7) {
    std::cerr << "usage: " << argv[0] << " ENDPOINT BROKER_KEY KEY_FILE CHAIN_FILE TOPIC HEADLINE\n";
    return 2;
  }
  auto key = lantoa::MemberKey::load(argv[3]);
  auto chain = lantoa::load_chain(argv[4]);
  if (!key || !chain) {
    std::cerr << (key ? chain.status() : key.status()).to_string() << "\n";
    return 1;
  }
  const std::string member = key->member;

  lantoa::PublisherOptions options;
  options.broker = {argv[1], lantoa::from_base64url(argv[2]).value_or("")};
  auto publisher = lantoa::Publisher::start(std::move(*key), *chain, options);
  if (!publisher) {
    std::cerr << publisher.status().to_string() << "\n";
    return 1;
  }

  // The publisher fills in the origin and the next sequence, then signs.
  auto event = lantoa::EventBuilder(member, 1, argv[5]).headline(argv[6]).urgency(3).build();
  if (!event) {
    std::cerr << event.status().to_string() << "\n";
    return 1;
  }
  auto outcome = (*publisher)->publish(*event);
  if (!outcome) {
    std::cerr << outcome.status().to_string() << "\n";
    return 1;
  }
  lantoa::PublishOutcome result = outcome->outcome.get();  // after the broker's fsync
  if (!result.ok()) {
    std::cerr << "rejected: " << result.error.to_string() << "\n";
    return 1;
  }
  std::cout << "published " << lantoa::to_hex(result.event_id) << " as broker sequence " << result.broker_seq << "\n";
  return 0;
}
