// Subscribing with the Lantoa SDK: a durable subscription whose events are
// verified here before the handler sees them.
//
//   lantoa-example-subscribe ENDPOINT BROKER_KEY KEY_FILE CHAIN_FILE ROOT_PUB FILTER COUNT
#include <lantoa/encoding.h>
#include <lantoa/subscriber.h>

#include <iostream>

int main(int argc, char** argv) {
  if (argc != 8) {
    std::cerr << "usage: " << argv[0] << " ENDPOINT BROKER_KEY KEY_FILE CHAIN_FILE ROOT_PUB FILTER COUNT\n";
    return 2;
  }
  auto key = lantoa::MemberKey::load(argv[3]);
  auto chain = lantoa::load_chain(argv[4]);
  auto root = lantoa::PublicKeys::load(argv[5]);
  if (!key || !chain || !root) {
    std::cerr << "cannot load the key, chain or root file\n";
    return 1;
  }

  lantoa::SubscriberOptions options;
  options.broker = {argv[1], lantoa::from_base64url(argv[2]).value_or("")};
  options.name = "example";
  options.filters = {argv[6]};
  options.start.set_earliest(true);
  auto subscriber = lantoa::Subscriber::open(std::move(*key), *chain, {root->member, root->sign}, options);
  if (!subscriber) {
    std::cerr << subscriber.status().to_string() << "\n";
    return 1;
  }

  const size_t wanted = std::stoul(argv[7]);
  size_t seen = 0;
  while (seen < wanted) {
    // The handler runs on this thread; the event is acked when it returns
    // OK (an error nacks it: the broker offers it again later).
    auto handled = (*subscriber)->poll(
        [](const lantoa::ReceivedEvent& e) {
          std::cout << e.verified.event.topic() << ": " << e.verified.event.headline() << " (signed by "
                    << e.verified.signer.member() << ", verified)\n";
          return lantoa::Status::Ok();
        },
        std::chrono::milliseconds(10000), wanted - seen);
    if (!handled || *handled == 0) {
      std::cerr << "no events arrived\n";
      return 1;
    }
    seen += *handled;
  }
  return 0;
}
